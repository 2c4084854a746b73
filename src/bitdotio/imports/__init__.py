"""Reading import files: format detection, parsing, type inference, and safe downloads.

Readers turn one local file into ``TableSource``s (``source.py``) whose rows arrive as
``COPY ... FROM STDIN (FORMAT csv)`` payload; the job worker (``bitdotio.jobs``) loads them.
Nothing here talks to Postgres.
"""
