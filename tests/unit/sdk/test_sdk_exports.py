"""The public surface is 2.2.1's plus ApiError, and 2.2.1's module paths still import (§5.1)."""

import bitdotio
from bitdotio import _bitdotio, api_client, utils
from bitdotio._version import __version__
from bitdotio.sdk import ApiError, BitdotioClient
from bitdotio.sdk._http import ApiClient
from bitdotio.sdk._validation import validate_database_name, validate_token


def test_all_is_pinned() -> None:
    assert sorted(bitdotio.__all__) == ["ApiError", "__version__", "bitdotio"]


def test_exports_are_the_sdk_objects() -> None:
    assert bitdotio.ApiError is ApiError
    assert bitdotio.__version__ == __version__ == "2.3.0"
    assert isinstance(bitdotio.bitdotio("v2_abc"), BitdotioClient)


def test_2_2_1_module_paths() -> None:
    assert _bitdotio.ApiError is ApiError
    assert _bitdotio._BitV2 is BitdotioClient
    assert _bitdotio.API_VERSION == "v2beta"
    assert _bitdotio.bitdotio is bitdotio.bitdotio
    assert api_client.ApiClient is ApiClient
    assert utils.validate_token is validate_token
    assert utils.validate_database_name is validate_database_name


def test_bit_bit_exposes_the_click_group() -> None:
    from bit.bit import bitio
    from bitdotio.cli import bit

    assert bitio is bit
