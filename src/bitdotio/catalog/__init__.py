"""The control-plane catalog: users, API keys and databases. Functions take a connection."""
