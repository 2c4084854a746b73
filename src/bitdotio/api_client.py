"""2.2.1's module path ``bitdotio.api_client``, kept for code and tests that import it (§5.1)."""

from bitdotio.sdk._http import ApiClient

__all__ = ["ApiClient"]
