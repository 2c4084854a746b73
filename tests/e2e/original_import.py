"""Run by the ORIGINAL bitdotio 2.2.1 package (its own venv): an import by file (multipart) and
one by URL (urlencoded), polled the way its README does; prints the final jobs as JSON.

argv: api_url key database_name csv_path file_url
"""

import json
import sys
import time

from bitdotio import bitdotio

api_url, key, name, csv_path, file_url = sys.argv[1:6]
b = bitdotio(key, api_url)
full = b.create_database(name)["name"]


def wait(job):
    while job["state"] not in ("DONE", "FAILED"):
        time.sleep(0.2)
        job = b.get_import_job(job["id"])
    return job


out = {}
with open(csv_path, "rb") as f:
    out["created"] = b.create_import_job(
        full, "by_file", schema_name="s1", infer_header="first_row", file=f
    )
out["by_file"] = wait(out["created"])
out["by_url"] = wait(b.create_import_job(full, "by_url", file_url=file_url))
out["rows"] = b.query(full, "SELECT * FROM s1.by_file UNION ALL SELECT * FROM by_url")["data"]
print(json.dumps(out))
