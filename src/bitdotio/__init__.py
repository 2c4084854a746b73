"""bit.io, self-hosted: the ``bitdotio`` SDK (2.2.1-compatible), the ``bit`` CLI and the platform.

The public SDK surface is 2.2.1's plus ``ApiError`` (contract §5.6 item 7); a unit test pins
``__all__``.
"""

from bitdotio._version import __version__
from bitdotio.sdk import ApiError, bitdotio

__all__ = ["ApiError", "__version__", "bitdotio"]
