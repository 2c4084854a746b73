"""The error catalogue: documented, unique, and rendered in bit.io's shapes."""

from __future__ import annotations

from pathlib import Path

from bitdotio.errors import CATALOGUE, BitError
from bitdotio.server.errors import error_body, status_for_sqlstate

DOCS = Path(__file__).resolve().parents[2] / "docs" / "reference" / "errors.md"


def test_every_code_is_documented() -> None:
    text = DOCS.read_text()
    for code in CATALOGUE:
        assert f"`{code}`" in text, code


def test_codes_are_grouped_by_subsystem() -> None:
    for code, entry in CATALOGUE.items():
        assert code.startswith("BIT") and len(code) == 6
        assert entry.code == code


def test_401_shape() -> None:
    assert error_body(BitError("BIT200"), "id") == {"detail": "Invalid API key", "uuid": "id"}


def test_4xx_shape() -> None:
    body = error_body(BitError("BIT300", "boom", sqlstate="42P01", details={"hint": "h"}), "id")
    assert body == {
        "status_code": 400,
        "error_id": "id",
        "message": "boom",
        "help": "",
        "error": {"type": "SqlError", "code": "BIT300", "sqlstate": "42P01", "hint": "h"},
    }


def test_sqlstate_table() -> None:
    assert status_for_sqlstate("42501") == 403
    assert status_for_sqlstate("23505") == 409
    assert status_for_sqlstate("57014") == 504
    assert status_for_sqlstate("08006") == 503
    assert status_for_sqlstate("53300") == 503
    assert status_for_sqlstate("42P01") == 400
    assert status_for_sqlstate(None) == 400
