"""The platform's HTTP API (FastAPI) and the process that runs it: ``bit serve``."""
