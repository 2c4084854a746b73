"""The Postgres endpoint: a TLS wire-protocol front door that routes ``owner/db`` by API key."""
