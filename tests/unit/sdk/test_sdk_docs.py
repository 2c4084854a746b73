"""Every public SDK method is in docs/reference/sdk.md."""

from pathlib import Path

import pytest

from bitdotio.sdk import BitdotioClient

SDK_DOC = (Path(__file__).parents[3] / "docs" / "reference" / "sdk.md").read_text()
METHODS = sorted(name for name in vars(BitdotioClient) if not name.startswith("_"))


@pytest.mark.parametrize("name", METHODS)
def test_method_is_documented(name: str) -> None:
    assert f"`{name}(" in SDK_DOC
