"""CSV and TSV files: encoding, dialect, header, whole-file type inference and COPY payload.

Pass 1 (in ``read_csv``) runs one streaming polars query over the whole file that checks every
value against the types guessed from its first 256 KiB; only columns that fail that check are
classified batch by batch. Pass 2 (``TableSource.batches``) cuts the file into ~1 MiB runs of
whole records and either passes them through untouched, when the file is already in the form
COPY reads, or re-parses and rewrites them. docs/reference/imports.md, "CSV", says what is
accepted.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import polars as pl

from bitdotio.imports import infer
from bitdotio.imports.columns import generated_names, normalise_names
from bitdotio.imports.source import (
    Column,
    ImportFailure,
    ImportLimits,
    InferHeader,
    Parsed,
    TableSource,
)
from bitdotio.imports.utf8_file import NotUtf8, Utf8File, open_utf8, record_end

__all__ = ["read_csv"]

PAYLOAD_CHUNK_BYTES = 1024 * 1024
SAMPLE_BYTES = 256 * 1024  # the records whose types pass 1 then checks in one query
_DELIMITERS = (",", ";", "\t", "|")
_BATCH_ROWS = 200_000


@dataclass(frozen=True)
class _Dialect:
    delimiter: str
    quote: str | None
    crlf: bool

    @property
    def is_copy_native(self) -> bool:
        """Whether COPY (FORMAT csv) with its defaults reads this dialect as it is."""
        return self.delimiter == "," and self.quote == '"'


@dataclass
class _Body:
    """What pass 1 learnt about the records after the first one."""

    rows: int
    longest_field_bytes: int
    may_have_short_rows: bool


def read_csv(
    path: Path,
    *,
    table_name: str,
    infer_header: InferHeader,
    limits: ImportLimits,
    origin: str = "the CSV file",
) -> Parsed:
    """Read a CSV or TSV file into one table."""
    text = open_utf8(path, limits)
    try:
        return _read_utf8(text, table_name, infer_header, limits, origin)
    except NotUtf8:
        text = open_utf8(path, limits, force_cp1252=True)
        return _read_utf8(text, table_name, infer_header, limits, origin)


def _read_utf8(
    text: Utf8File,
    table_name: str,
    infer_header: InferHeader,
    limits: ImportLimits,
    origin: str,
) -> Parsed:
    head = text.head()
    dialect = _sniff(head)
    first_cells, first_end = _first_record(text, dialect, limits)
    if len(first_cells) > limits.max_columns:
        raise ImportFailure(
            "TooManyColumns",
            f"The file has {len(first_cells)} columns; at most {limits.max_columns} are allowed.",
            columns=len(first_cells),
        )
    width = len(first_cells)
    trackers = [infer.TypeTracker() for _ in range(width)]
    body = _infer_body(text, first_end, dialect, trackers, limits)
    has_header = _has_header(first_cells, trackers, infer_header)
    if has_header:
        names = normalise_names(first_cells)
        data_start, rows = first_end, body.rows
    else:
        names = generated_names(width)
        infer.update_frame(trackers, _frame([first_cells]))
        data_start, rows = text.start, body.rows + 1
    _check_field_size(max(body.longest_field_bytes, *map(_bytes, first_cells)), limits)
    columns = [Column(n, t.pg_type) for n, t in zip(names, trackers, strict=True)]
    is_raw = (
        dialect.is_copy_native
        and not text.transcoded
        and not body.may_have_short_rows
        and not any(t.needs_conversion for t in trackers)
    )
    expressions = [t.expression(pl.col(f"c{i}")) for i, t in enumerate(trackers)]
    payload = _Payload(text, data_start, dialect, expressions, is_raw, limits)
    first_line = 1 + (_newlines(text, text.start, first_end) if has_header else 0)
    table = TableSource(
        name=table_name,
        columns=columns,
        batches=payload.chunks,
        origin=origin,
        row_origin=_LineFinder(text, dialect, data_start, first_line).origin,
        row_count=rows,
    )
    return Parsed(format="csv", tables=[table])


def _newlines(text: Utf8File, start: int, end: int) -> int:
    """Line breaks between two offsets: a header with quoted line breaks spans several lines."""
    with text.path.open("rb") as file:
        file.seek(start)
        return file.read(end - start).count(b"\n")


def _bytes(cell: str | None) -> int:
    return len(cell.encode()) if cell else 0


def _check_field_size(longest: int, limits: ImportLimits) -> None:
    if longest > limits.max_field_bytes:
        raise ImportFailure(
            "TooLarge",
            f"A field holds {longest} bytes; at most {limits.max_field_bytes} are allowed.",
            field_bytes=longest,
        )


def _sniff(head: bytes) -> _Dialect:
    """The delimiter and quote that split the sample into the most consistent rows."""
    sample = head[: record_end(head, b'"') or len(head)].decode(errors="replace")
    lines = sample.splitlines()
    crlf = head.find(b"\r\n") != -1 and head.find(b"\r\n") == head.find(b"\n") - 1
    quote: str | None = '"'
    if '"' not in sample or _has_stray_quotes(lines):
        quote = None if '"' in sample else '"'
    best = max(_DELIMITERS, key=lambda d: (*_consistency(sample, d, quote), -_DELIMITERS.index(d)))
    return _Dialect(delimiter=best, quote=quote, crlf=crlf)


def _has_stray_quotes(lines: list[str]) -> bool:
    """Quotes inside unquoted fields (``12" pizza``) with no field that starts with a quote."""
    return not any(
        line.startswith('"') or any(f'{d}"' in line for d in _DELIMITERS) for line in lines
    )


def _consistency(sample: str, delimiter: str, quote: str | None) -> tuple[float, int]:
    """(share of rows with the most common field count, that count); (0, 1) for one field."""
    reader = csv.reader(io.StringIO(sample), **_csv_options(delimiter, quote))
    try:
        counts = [len(row) for row in reader if row]
    except csv.Error:
        return (0.0, 1)
    if not counts:
        return (0.0, 1)
    common = max(set(counts), key=counts.count)
    if common < 2:
        return (0.0, 1)
    return (counts.count(common) / len(counts), common)


def _csv_options(delimiter: str, quote: str | None) -> dict[str, Any]:
    """The stdlib csv module's options for a dialect."""
    if quote is None:
        return {"delimiter": delimiter, "quoting": csv.QUOTE_NONE}
    return {"delimiter": delimiter, "quotechar": quote}


def _first_record(
    text: Utf8File, dialect: _Dialect, limits: ImportLimits
) -> tuple[list[str | None], int]:
    """The cells of the first record and the file offset just past it."""
    quote = dialect.quote.encode() if dialect.quote else None
    for data in text.records_from(text.start, quote, limits, SAMPLE_BYTES):
        first = _first_record_length(data, quote)
        cells = _read_chunk(data[:first], dialect, width=None).row(0)
        return list(cells), text.start + first
    raise ImportFailure("CorruptFile", "The file holds no rows.")


def _first_record_length(data: bytes, quote: bytes | None) -> int:
    position = data.find(b"\n")
    while position != -1:
        if not quote or data.count(quote, 0, position) % 2 == 0:
            return position + 1
        position = data.find(b"\n", position + 1)
    return len(data)


def _read_chunk(data: bytes, dialect: _Dialect, width: int | None) -> pl.DataFrame:
    """Whole records as a frame of String columns ``c0``, ``c1``, ... (short rows padded)."""
    options: dict[str, Any] = {"infer_schema": False}
    if width is not None:
        options = {"schema": _schema(width), "missing_columns": "insert"}
    try:
        frame = pl.read_csv(
            data,
            has_header=False,
            separator=dialect.delimiter,
            quote_char=dialect.quote,
            raise_if_empty=False,
            **options,
        )
    except pl.exceptions.PolarsError as error:
        raise _parse_failure(error) from error
    if width is None:
        frame.columns = [f"c{i}" for i in range(frame.width)]
    return frame


def _schema(width: int) -> dict[str, pl.DataType]:
    return {f"c{i}": pl.String() for i in range(width)}


def _parse_failure(error: Exception) -> Exception:
    message = str(error)
    if "utf-8" in message:
        return NotUtf8()
    if "more fields" in message or "not specified in schema" in message:
        return _LongRow()
    return ImportFailure("CorruptFile", f"The CSV file cannot be parsed: {message[:200]}")


class _LongRow(Exception):
    """polars met a row with more fields than the first; ``_long_row_failure`` finds it."""


def _long_row_failure(text: Utf8File, dialect: _Dialect, width: int) -> ImportFailure:
    """Decision: a row longer than the first row fails the import, naming its line."""
    details: dict[str, Any] = {}
    with text.open_text(text.start) as stream:
        reader = csv.reader(stream, **_csv_options(dialect.delimiter, dialect.quote))
        previous_end = 0
        try:
            for record in reader:
                if len(record) > width:
                    details = {"line": previous_end + 1, "fields": len(record), "expected": width}
                    break
                previous_end = reader.line_num
        except csv.Error:
            pass
    return ImportFailure(
        "InvalidValue",
        f"A row has more fields than the first row ({width}): add column names to the first "
        "row or remove the extra fields.",
        **details,
    )


def _frame(rows: list[list[str | None]]) -> pl.DataFrame:
    width = len(rows[0])
    return pl.DataFrame(rows, schema=_schema(width), orient="row")


def _infer_body(
    text: Utf8File,
    body_start: int,
    dialect: _Dialect,
    trackers: list[infer.TypeTracker],
    limits: ImportLimits,
) -> _Body:
    """Pass 1: feed every value after the first record to the trackers."""
    try:
        return _infer_body_values(text, body_start, dialect, trackers, limits)
    except _LongRow:
        raise _long_row_failure(text, dialect, len(trackers)) from None


def _infer_body_values(
    text: Utf8File,
    body_start: int,
    dialect: _Dialect,
    trackers: list[infer.TypeTracker],
    limits: ImportLimits,
) -> _Body:
    width = len(trackers)
    quote = dialect.quote.encode() if dialect.quote else None
    for sample in text.records_from(body_start, quote, limits, SAMPLE_BYTES):
        infer.update_frame(trackers, _read_chunk(sample, dialect, width))
        break
    scan = text.scan(dialect.delimiter, dialect.quote, _schema(width))
    names = [f"c{i}" for i in range(width)]
    checks = [
        t.unchanged_expression(pl.col(n)).alias(n) for t, n in zip(trackers, names, strict=True)
    ]
    stats = [
        pl.len().alias("__rows"),
        pl.max_horizontal(pl.col(names).str.len_bytes().max()).alias("__longest"),
        pl.col(names[-1]).null_count().alias("__last_nulls"),
    ]
    result = _collect(scan.select(checks + stats)).row(0, named=True)
    unsettled = [i for i, n in enumerate(names) if result[n] is False]
    if unsettled:
        _classify_batches(scan, trackers, unsettled)
    return _Body(
        rows=result["__rows"],
        longest_field_bytes=result["__longest"] or 0,
        may_have_short_rows=bool(result["__last_nulls"]),
    )


def _classify_batches(
    scan: pl.LazyFrame, trackers: list[infer.TypeTracker], which: list[int]
) -> None:
    selected = scan.select([f"c{i}" for i in which])
    try:
        for batch in selected.collect_batches(chunk_size=_BATCH_ROWS, engine="streaming"):
            infer.update_frame([trackers[i] for i in which], batch)
    except pl.exceptions.PolarsError as error:
        raise _parse_failure(error) from error


def _collect(query: pl.LazyFrame) -> pl.DataFrame:
    try:
        return query.collect(engine="streaming")
    except pl.exceptions.PolarsError as error:
        raise _parse_failure(error) from error


def _has_header(
    cells: list[str | None], trackers: list[infer.TypeTracker], mode: InferHeader
) -> bool:
    """Decision (docs, "Header detection") for ``auto``; the other modes say it outright.

    When some column has a non-text type, the first row is a header iff each of its cells
    above such a column is empty or would make that column text, and one cell is not empty.
    When every column is text (or has no values), it is a header iff its cells are all
    non-empty, distinct ignoring case, and each alone would be text.
    """
    if mode != "auto":
        return mode == "first_row"
    typed = [(cell, t) for cell, t in zip(cells, trackers, strict=True) if t.pg_type != "text"]
    if typed:
        return any(cells) and all(not cell or not t.accepts(cell) for cell, t in typed)
    present = [cell for cell in cells if cell]
    return (
        len(present) == len(cells)
        and len({cell.casefold() for cell in present}) == len(present)
        and all(infer.value_type(cell) == "text" for cell in present)
    )


class _Payload:
    """Pass 2: the COPY payload, raw where the file already is in COPY's form."""

    def __init__(
        self,
        text: Utf8File,
        start: int,
        dialect: _Dialect,
        expressions: list[pl.Expr],
        is_raw: bool,
        limits: ImportLimits,
    ) -> None:
        self._text, self._start, self._dialect = text, start, dialect
        self._expressions, self._is_raw, self._limits = expressions, is_raw, limits
        # A row of one cell reading \. would end COPY's input: quote every value then.
        self._quote_style: Literal["necessary", "non_numeric"] = (
            "non_numeric" if len(expressions) == 1 else "necessary"
        )

    def chunks(self) -> Iterator[bytes]:
        quote = self._dialect.quote.encode() if self._dialect.quote else None
        chunks = self._text.records_from(self._start, quote, self._limits, PAYLOAD_CHUNK_BYTES)
        for data in chunks:
            if self._is_raw and self._passes_raw(data):
                yield data
                continue
            try:
                yield self._rewrite(data)
            except _LongRow:
                raise _long_row_failure(self._text, self._dialect, len(self._expressions)) from None

    def _passes_raw(self, data: bytes) -> bool:
        """Whether COPY reads these bytes as polars did in pass 1, empty strings as NULL.

        Quoted empty strings (``""``, which also start escaped quotes) would load as empty
        strings rather than NULL; ``\\.`` alone on a line would end COPY's input.
        """
        # Single-byte membership tests run at memchr speed; look for pairs only after them.
        if b"\x00" in data or (b"\\" in data and b"\\." in data):
            return False
        if b'"' in data and b'""' in data:
            return False
        if b"\r" not in data:
            return not self._dialect.crlf or b"\n" not in data
        return self._dialect.crlf and data.count(b"\r") == data.count(b"\n") == data.count(b"\r\n")

    def _rewrite(self, data: bytes) -> bytes:
        frame = _read_chunk(data, self._dialect, len(self._expressions))
        converted = frame.select(self._expressions)
        out = io.BytesIO()
        converted.write_csv(
            out,
            include_header=False,
            line_terminator="\r\n" if self._dialect.crlf else "\n",
            quote_style=self._quote_style,
        )
        return out.getvalue()


class _LineFinder:
    """Maps a payload row to its line in the file, re-reading the file only when asked."""

    def __init__(self, text: Utf8File, dialect: _Dialect, start: int, first_line: int) -> None:
        self._text, self._dialect, self._start, self._first_line = (
            text,
            dialect,
            start,
            first_line,
        )

    def origin(self, row: int) -> dict[str, Any]:
        with self._text.open_text(self._start) as stream:
            reader = csv.reader(
                stream, **_csv_options(self._dialect.delimiter, self._dialect.quote)
            )
            previous_end = 0
            try:
                for index, _record in enumerate(reader, 1):
                    if index == row:
                        return {"line": self._first_line + previous_end}
                    previous_end = reader.line_num
            except csv.Error:
                pass
        return {"row": row}
