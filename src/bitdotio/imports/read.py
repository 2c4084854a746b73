"""The one entry point: detect a file's format and hand it to that format's reader."""

from __future__ import annotations

import zipfile
from pathlib import Path

import polars as pl

from bitdotio.imports.detect import detect_format
from bitdotio.imports.source import ImportFailure, ImportLimits, InferHeader, Parsed

__all__ = ["read_file"]


def read_file(
    path: Path, *, table_name: str, infer_header: InferHeader, limits: ImportLimits
) -> Parsed:
    """The tables in ``path``; a file that cannot be imported raises ``ImportFailure``.

    Readers are imported when needed, so that a format's dependencies load only for it.
    """
    fmt = detect_format(path)
    try:
        return _dispatch(fmt, path, table_name, infer_header, limits)
    except (pl.exceptions.PolarsError, zipfile.BadZipFile, UnicodeDecodeError) as error:
        # The readers translate the errors they expect; this is the backstop for the rest.
        raise ImportFailure(
            "CorruptFile", f"The {fmt} file cannot be read: {str(error)[:200]}"
        ) from error


def _dispatch(
    fmt: str, path: Path, table_name: str, infer_header: InferHeader, limits: ImportLimits
) -> Parsed:
    if fmt == "csv":
        from bitdotio.imports.csv_reader import read_csv

        return read_csv(path, table_name=table_name, infer_header=infer_header, limits=limits)
    if fmt == "json":
        from bitdotio.imports.json_reader import read_json

        return read_json(path, table_name=table_name, limits=limits)
    if fmt == "zip":
        from bitdotio.imports.zip_reader import read_zip

        return read_zip(path, table_name=table_name, infer_header=infer_header, limits=limits)
    if fmt in ("xlsx", "xls", "ods"):
        from bitdotio.imports.excel import read_excel

        return read_excel(
            path, table_name=table_name, infer_header=infer_header, limits=limits, fmt=fmt
        )
    if fmt == "sqlite":
        from bitdotio.imports.sqlite import read_sqlite

        return read_sqlite(path, limits=limits)
    if fmt == "parquet":
        from bitdotio.imports.parquet import read_parquet

        return read_parquet(path, table_name=table_name, limits=limits)
    raise ImportFailure("UnsupportedFormat", f"Files of format {fmt!r} cannot be imported.")
