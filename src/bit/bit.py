"""2.2.1's module path ``bit.bit`` with the click group ``bitio`` (contract §5.1)."""

from bitdotio.cli import bit as bitio
from bitdotio.cli import main

__all__ = ["bitio", "main"]
