"""The failed-attempt throttle of the Postgres endpoint: per address, per window."""

from __future__ import annotations

import pytest

from bitdotio.errors import BitError
from bitdotio.proxy.auth import FailureThrottle


def test_refuses_an_address_after_its_limit() -> None:
    throttle = FailureThrottle(3)
    for _ in range(3):
        throttle.check("10.0.0.1")
        throttle.record("10.0.0.1")
    with pytest.raises(BitError) as info:
        throttle.check("10.0.0.1")
    assert info.value.code == "BIT513" and info.value.sqlstate == "28000"
    throttle.check("10.0.0.2")  # other addresses are unaffected


def test_failures_expire_after_the_window() -> None:
    throttle = FailureThrottle(1, window_s=0.0)
    throttle.record("10.0.0.1")
    throttle.check("10.0.0.1")  # the only failure is already outside the window


def test_a_flood_of_addresses_does_not_grow_without_bound() -> None:
    throttle = FailureThrottle(5, max_addresses=10)
    for i in range(100):
        throttle.record(f"10.0.{i}.1")
    assert len(throttle._failures) <= 10
