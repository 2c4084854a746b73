"""2.2.1's module path ``bitdotio._bitdotio``, kept for code and tests that import it (§5.1)."""

from bitdotio.sdk._client import BitdotioClient as _BitV2
from bitdotio.sdk._client import bitdotio
from bitdotio.sdk._exceptions import ApiError
from bitdotio.sdk._http import API_VERSION

__all__ = ["API_VERSION", "ApiError", "_BitV2", "bitdotio"]
