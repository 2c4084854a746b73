"""One export: connect as the caller, describe the source, run the format's writer.

The connection is the caller's own role (security.md §1.7) in a read-only transaction, with
the session settings that make output the same everywhere: UTF-8, ISO dates, UTC, and the
export's statement timeout.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import BinaryIO

import psycopg
from psycopg.conninfo import make_conninfo

from bitdotio.exports.csv_writer import write_csv
from bitdotio.exports.formats import ExportFailure
from bitdotio.exports.json_writer import write_json
from bitdotio.exports.parquet_writer import write_parquet
from bitdotio.exports.source import describe, failure_from
from bitdotio.exports.xlsx_writer import write_xlsx

__all__ = ["ExportRequest", "export"]


@dataclass(frozen=True)
class ExportRequest:
    export_format: str  # csv, json, xls or parquet
    query_string: str | None = None
    table: tuple[str, str] | None = None  # (schema, name)
    escape_formulas: bool = True  # CSV only


def _session(timeout_s: float) -> str:
    settings = {
        "default_transaction_read_only": "on",
        "statement_timeout": f"{int(timeout_s * 1000)}ms",
        "idle_in_transaction_session_timeout": "0",
        "TimeZone": "UTC",
        "DateStyle": "ISO,YMD",
        "IntervalStyle": "postgres",
        "extra_float_digits": "1",
        "bytea_output": "hex",
    }
    return " ".join(f"-c {name}={value}" for name, value in settings.items())


def export(
    conninfo: str,
    request: ExportRequest,
    out: BinaryIO,
    *,
    timeout_s: float,
    stop: threading.Event | None = None,
) -> int:
    """Write the export to ``out``; returns its rows. Raises ``ExportFailure``."""
    conninfo = make_conninfo(
        conninfo,
        options=_session(timeout_s),
        application_name="bitio-export",
        client_encoding="UTF8",
    )
    try:
        with psycopg.connect(conninfo) as conn:
            source = describe(conn, query_string=request.query_string, table=request.table)
            if request.export_format == "csv":
                return write_csv(
                    conn, source, out, escape_formulas=request.escape_formulas, stop=stop
                )
            if request.export_format == "json":
                return write_json(conn, source, out, stop=stop)
            if request.export_format == "xls":
                return write_xlsx(conn, source, out, stop=stop)
            return write_parquet(conn, source, out, stop=stop)
    except psycopg.DataError as error:
        if error.sqlstate is None:  # raised by a loader: a value Python cannot hold
            raise ExportFailure(
                "UnsupportedValue",
                f"A value cannot be written in this format ({error}). Export as CSV or JSON, "
                "or cast the column to text in a query.",
            ) from None
        raise failure_from(error) from None
    except psycopg.Error as error:
        raise failure_from(error) from None
