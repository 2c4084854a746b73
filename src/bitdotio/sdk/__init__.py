"""The 2.2.1-compatible client: the SDK object, its transport, pools and checks."""

from bitdotio.sdk._client import BitdotioClient, bitdotio
from bitdotio.sdk._exceptions import ApiError

__all__ = ["ApiError", "BitdotioClient", "bitdotio"]
