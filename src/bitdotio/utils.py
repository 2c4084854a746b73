"""2.2.1's module path ``bitdotio.utils``, kept for code and tests that import it (§5.1)."""

from bitdotio.sdk._validation import validate_database_name, validate_token

__all__ = ["validate_database_name", "validate_token"]
