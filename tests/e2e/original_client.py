"""Run by the ORIGINAL bitdotio 2.2.1 package (its own venv): exercise it, print JSON results.

argv: api_url key database_name
"""

import json
import sys

import bitdotio as original
from bitdotio import bitdotio
from bitdotio._bitdotio import ApiError

api_url, key, name = sys.argv[1:4]
b = bitdotio(key, api_url)
out = {"version": original.__version__}
created = b.create_database(name, is_private=False, storage_limit_bytes=1000000)
full = created["name"]
out["created"] = created
out["listed"] = [d["name"] for d in b.list_databases()]
out["got"] = b.get_database(full)
out["updated"] = b.update_database(full, name=name + "-2", is_private=True)
full = out["updated"]["name"]
out["empty_update"] = b.update_database(full)
b.query(full, "CREATE TABLE person (name text, age integer)")
b.query(full, "INSERT INTO person VALUES ('Alice', 45), ('Bob', 84)")
out["rows"] = b.query(full, "SELECT * FROM person ORDER BY age")
out["objects"] = b.query(full, "SELECT * FROM person ORDER BY age", data_format="objects")
out["unicode"] = b.query(full, "SELECT 'é' AS x", data_format="rows")
try:
    b.query(full, "SELECT * FROM nope")
except ApiError as exc:
    out["sql_error"] = [exc.status_code, exc.data]
try:
    b.get_database("nobody/x")
except ApiError as exc:
    out["not_found"] = [exc.status_code, exc.data]
out["deleted"] = b.delete_database(full)
try:
    bitdotio("v2_not_a_real_key", api_url).list_databases()
except ApiError as exc:
    out["bad_key"] = [exc.status_code, exc.data]
print(json.dumps(out))
