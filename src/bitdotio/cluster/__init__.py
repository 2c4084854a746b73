"""The Postgres servers that hold the catalog and the user databases."""
