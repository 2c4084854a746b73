"""Run by the ORIGINAL bitdotio 2.2.1 package (its own venv): export jobs from a query and from
a table in every format, polled the way its README does; prints the jobs as JSON.

argv: api_url key database_name
"""

import json
import sys
import time

from bitdotio import bitdotio

api_url, key, name = sys.argv[1:4]
b = bitdotio(key, api_url)
full = b.create_database(name)["name"]
b.query(full, "CREATE TABLE cities (name text, population integer)")
b.query(full, "INSERT INTO cities VALUES ('Paris', 2100000), ('Lyon', 520000)")


def wait(job):
    while job["state"] not in ("DONE", "FAILED"):
        time.sleep(0.2)
        job = b.get_export_job(job["id"])
    return job


query = "SELECT * FROM cities ORDER BY population DESC"
calls = [
    ("query csv (default format)", lambda: b.create_export_job(full, query_string=query)),
    ("query json", lambda: b.create_export_job(full, query, export_format="json")),
    (
        "query xls",
        lambda: b.create_export_job(full, query, file_name="big.xlsx", export_format="xls"),
    ),
    ("query parquet", lambda: b.create_export_job(full, query, export_format="parquet")),
    ("table csv", lambda: b.create_export_job(full, table_name="cities", file_name="c.csv")),
    (
        "table json",
        lambda: b.create_export_job(
            full, table_name="cities", schema_name="public", export_format="json"
        ),
    ),
    ("table xls", lambda: b.create_export_job(full, table_name="cities", export_format="xls")),
    (
        "table parquet",
        lambda: b.create_export_job(full, None, "cities", None, "c.parquet", "parquet"),
    ),
]
out = {}
for label, call in calls:
    created = call()
    out[label] = {"created": created, "done": wait(created)}
print(json.dumps(out))
