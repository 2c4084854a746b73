"""Run by the ORIGINAL bitdotio 2.2.1 (its own venv): pooled cursors through our endpoint.

argv: api_url key database_name db_host db_port. Prints JSON results.
"""

import json
import sys

import bitdotio as original
from bitdotio import _bitdotio, bitdotio

api_url, key, db_name, db_host, db_port = sys.argv[1:6]
# 2.2.1 hard-codes db.bit.io:5432 as class attributes of _BitV2 (contract §5.2).
_bitdotio._BitV2._host = db_host
_bitdotio._BitV2._port = int(db_port)

b = bitdotio(key, api_url)
out = {"version": original.__version__}
with b.pooled_cursor(db_name) as cur:
    cur.execute("CREATE TABLE person (name text, age integer)")
    for name, age in [("Alice", 45), ("Bob", 84), ("Catherine", 19)]:
        cur.execute("INSERT INTO person (name, age) VALUES (%s, %s)", (name, age))
with b.pooled_cursor(db_name) as cur:
    cur.execute("SELECT name, age FROM person ORDER BY age")
    out["rows"] = cur.fetchall()
with b.pooled_connection(db_name) as conn, conn.cursor() as cur:
    cur.execute("SELECT count(*) FROM person")
    out["count"] = cur.fetchone()[0]
conn = b.get_connection(db_name)
try:
    out["ssl_in_use"] = bool(conn.info.ssl_in_use)
    with conn.cursor() as cur:
        cur.execute("SELECT 'direct'")
        out["direct"] = cur.fetchone()[0]
finally:
    conn.close()
out["http"] = b.query(db_name, "SELECT count(*) AS n FROM person", data_format="objects")["data"]
print(json.dumps(out))
