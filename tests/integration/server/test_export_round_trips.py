"""Round trips: a file imported through the API, exported in every format, read back with the
usual readers (csv, json, openpyxl, pyarrow) and compared cell by cell: NULLs, unicode, large
numerics, timestamps with time zones, formula-like text."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import openpyxl
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from bitdotio.cluster.bootstrap import Cluster
from tests.integration.conftest import User, create_user
from tests.integration.server.test_exports import download, export, run_sql
from tests.integration.server.test_imports import start_import
from tests.integration.server.test_imports import wait as wait_import

SOURCE = (
    "id,name,amount,ratio,happened,day,flag\n"
    '1,"Zoë 🚀 ""quoted"", comma",12345678901234567890.123456789,0.5,'
    "2024-03-01T10:00:00+02:00,2024-02-29,true\n"
    "2,,-0.000000000000000001,-1.25e-7,1999-12-31T23:59:59.999999Z,0001-01-01,false\n"
    '3,"line\nbreak",,,,,\n'
    "4,=1+2,7,3,2024-06-01T00:00:00-07:00,2024-06-01,true\n"
).encode()

NAMES = ["id", "name", "amount", "ratio", "happened", "day", "flag"]
# What the import makes of SOURCE, as Python values (NULL is None; an empty text field too).
ROWS: list[list[Any]] = [
    [1, 'Zoë 🚀 "quoted", comma', Decimal("12345678901234567890.123456789"), 0.5,
     datetime(2024, 3, 1, 8, 0, tzinfo=UTC), date(2024, 2, 29), True],
    [2, None, Decimal("-0.000000000000000001"), -1.25e-7,
     datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), date(1, 1, 1), False],
    [3, "line\nbreak", None, None, None, None, None],
    [4, "=1+2", Decimal(7), 3.0, datetime(2024, 6, 1, 7, 0, tzinfo=UTC), date(2024, 6, 1), True],
]  # fmt: skip


@pytest.fixture(scope="module")
def imported(client: TestClient, cluster: Cluster) -> tuple[User, str]:
    user = create_user(cluster, f"roundtrip-{uuid.uuid4().hex[:8]}")
    response = client.post("/v2beta/db/", json={"name": "roundtrip"}, headers=user.headers)
    assert response.status_code == 201
    database = str(response.json()["name"])
    job = wait_import(
        client, user, start_import(client, user, database, SOURCE, table_name="t").json()
    )
    assert job["state"] == "DONE", job["error_details"]
    return user, database


def _exported(client: TestClient, imported: tuple[User, str], export_format: str) -> bytes:
    user, database = imported
    job = export(
        client,
        user,
        database,
        query_string="SELECT * FROM t ORDER BY id",
        export_format=export_format,
        escape_formulas=False,
    )
    response = download(client, job)
    assert response.status_code == 200
    return bytes(response.content)


def test_the_import_made_the_expected_types(client: TestClient, imported: tuple[User, str]) -> None:
    user, database = imported
    types = run_sql(
        client,
        user,
        database,
        "SELECT string_agg(format_type(atttypid, atttypmod), ',' ORDER BY attnum)"
        " FROM pg_attribute WHERE attrelid = 't'::regclass AND attnum > 0",
    )
    assert types == [
        ["integer,text,numeric,double precision,timestamp with time zone,date,boolean"]
    ]


def test_csv(client: TestClient, imported: tuple[User, str]) -> None:
    rows = list(csv.reader(io.StringIO(_exported(client, imported, "csv").decode(), newline="")))
    assert rows[0] == NAMES
    expected = [
        ["1", 'Zoë 🚀 "quoted", comma', "12345678901234567890.123456789", "0.5",
         "2024-03-01 08:00:00+00", "2024-02-29", "t"],
        ["2", "", "-0.000000000000000001", "-1.25e-07",
         "1999-12-31 23:59:59.999999+00", "0001-01-01", "f"],
        ["3", "line\nbreak", "", "", "", "", ""],
        ["4", "=1+2", "7", "3", "2024-06-01 07:00:00+00", "2024-06-01", "t"],
    ]  # fmt: skip
    assert rows[1:] == expected


def test_json(client: TestClient, imported: tuple[User, str]) -> None:
    objects = json.loads(_exported(client, imported, "json"), parse_float=Decimal)
    assert [list(o) for o in objects] == [NAMES] * len(ROWS)
    for got, want in zip(objects, ROWS, strict=True):
        row = list(got.values())
        assert row[:2] == want[:2]
        assert row[2] == want[2]  # numeric: every digit, as a JSON number
        assert row[3] == (None if want[3] is None else Decimal(repr(want[3])))
        happened = None if row[4] is None else datetime.fromisoformat(row[4])
        assert happened == want[4] and (row[4] is None or row[4].endswith("+00:00"))
        assert row[5] == (want[5].isoformat() if want[5] else None)
        assert row[6] == want[6]


def test_xlsx(client: TestClient, imported: tuple[User, str]) -> None:
    sheet = openpyxl.load_workbook(io.BytesIO(_exported(client, imported, "xls"))).active
    header, *rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert header == NAMES
    for got, want in zip(rows, ROWS, strict=True):
        assert got[:2] == want[:2]
        # more than 15 significant digits: text, exact; otherwise a number
        amount = want[2]
        if amount is not None and len(amount.as_tuple().digits) > 15:
            assert got[2] == format(amount, "f")
        else:
            assert got[2] == (None if amount is None else pytest.approx(float(amount)))
        assert got[3] == want[3]
        # Excel has no time zones (UTC is written) and keeps milliseconds
        expected_ts = want[4] and want[4].replace(tzinfo=None)
        if expected_ts:
            assert abs(got[4] - expected_ts) <= timedelta(milliseconds=1)
        else:
            assert got[4] is None
        assert (got[5].date() if got[5] else None) == want[5]
        assert got[6] == want[6]
    assert sheet.cell(5, 2).data_type == "s"  # "=1+2" is text, not a formula


def test_parquet(client: TestClient, imported: tuple[User, str]) -> None:
    table = pq.read_table(io.BytesIO(_exported(client, imported, "parquet")))
    assert table.column_names == NAMES
    assert [str(t) for t in table.schema.types] == [
        "int32", "string", "string", "double", "timestamp[us, tz=UTC]", "date32[day]", "bool",
    ]  # fmt: skip
    for got, want in zip(table.to_pylist(), ROWS, strict=True):
        values = list(got.values())
        # numeric without a declared precision is its exact decimal text
        assert values[2] == (None if want[2] is None else format(want[2], "f"))
        assert values[:2] + values[3:] == want[:2] + want[3:]
