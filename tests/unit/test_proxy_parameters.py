"""Startup parameters: the allowlist and the strict parse of ``options`` (security.md §3 row 10)."""

from __future__ import annotations

import pytest

from bitdotio.errors import BitError
from bitdotio.proxy.parameters import forwarded_parameters, split_options


def test_routing_parameters_are_not_forwarded() -> None:
    assert forwarded_parameters({"user": "api_user", "database": "a/b"}) == {}


def test_ordinary_client_parameters_pass() -> None:
    params = {
        "user": "x",
        "database": "a/b",
        "application_name": "psql",
        "client_encoding": "UTF8",
        "DateStyle": "ISO, MDY",
        "TimeZone": "UTC",
        "extra_float_digits": "2",
    }
    forwarded = forwarded_parameters(params)
    assert forwarded == {k: v for k, v in params.items() if k not in ("user", "database")}


def test_options_become_settings() -> None:
    forwarded = forwarded_parameters(
        {"options": "-c search_path=app,public --statement-timeout=5s -cDateStyle=ISO"}
    )
    assert forwarded == {
        "search_path": "app,public",
        "statement_timeout": "5s",
        "DateStyle": "ISO",
    }


@pytest.mark.parametrize(
    "params",
    [
        {"replication": "database"},
        {"replication": "true"},
        {"role": "postgres"},
        {"session_authorization": "postgres"},
        {"work_mem": "2GB"},
        {"options": "-c session_preload_libraries=x"},
        {"options": "-c local_preload_libraries=x"},
        {"options": "-c role=db_owner"},
        {"options": "-c="},
        {"options": "-c"},
        {"options": "-c =x"},
        {"options": "-c name"},
        {"options": "-d 5"},
        {"options": "-B 100"},
        {"options": "--temp-file-limit=-1"},
        {"application_name": "x" * 2000},
    ],
)
def test_refused(params: dict[str, str]) -> None:
    with pytest.raises(BitError) as info:
        forwarded_parameters(params)
    assert info.value.code == "BIT508"
    assert info.value.sqlstate == "42501"


def test_split_options_like_postgres() -> None:
    assert split_options(r"-c search_path=a\ b  -c x=y ") == ["-c", "search_path=a b", "-c", "x=y"]
    assert split_options("") == []
    assert split_options("  ") == []
    assert split_options("trailing\\") == ["trailing"]
