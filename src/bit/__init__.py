"""2.2.1's top-level CLI package ``bit``; the CLI itself lives in ``bitdotio.cli`` (§5.1)."""
