"""JSON files: an array of objects, one object, or newline-delimited objects, as one table.

The file is read twice with bounded memory: rows are decoded one at a time from a sliding
buffer (``json.JSONDecoder.raw_decode``), once to learn the columns and their types and once
to write the COPY payload. docs/reference/imports.md, "JSON", has the type rules.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bitdotio.imports.columns import normalise_names
from bitdotio.imports.source import Column, ImportFailure, ImportLimits, Parsed, TableSource

__all__ = ["read_json"]

_READ_CHARS = 1024 * 1024
_PAYLOAD_CHUNK_BYTES = 1024 * 1024
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_BLANK = re.compile(r"[ \t\r\n]*")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


@dataclass
class _ColumnKinds:
    """The JSON kinds seen in one column: bool, int, bigint, float, str, nested."""

    kinds: set[str] = field(default_factory=set)

    def add(self, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, bool):
            self.kinds.add("bool")
        elif isinstance(value, int):
            self.kinds.add("int" if _INT64_MIN <= value <= _INT64_MAX else "bigint")
        elif isinstance(value, float):
            self.kinds.add("float")
        elif isinstance(value, str):
            self.kinds.add("str")
        else:
            self.kinds.add("nested")

    @property
    def pg_type(self) -> str:
        """Decision: nested anywhere → jsonb; ints → bigint; numbers → double; mixed → text."""
        kinds = self.kinds
        if "nested" in kinds:
            return "jsonb"
        if kinds == {"bool"}:
            return "boolean"
        if kinds == {"int"}:
            return "bigint"  # bit.io's documented rule: integer → BIGINT
        if kinds and kinds <= {"int", "bigint"}:
            return "numeric"
        if kinds and kinds <= {"int", "bigint", "float"}:
            return "double precision"
        return "text"


def read_json(
    path: Path, *, table_name: str, limits: ImportLimits, origin: str = "the JSON file"
) -> Parsed:
    """Read a JSON file into one table whose columns are the objects' keys in first-seen order."""
    keys: dict[str, _ColumnKinds] = {}
    rows = 0
    for line, row in _rows(path, limits):
        rows += 1
        for key, value in row.items():
            kinds = keys.get(key)
            if kinds is None:
                if len(keys) >= limits.max_columns:
                    raise ImportFailure(
                        "TooManyColumns",
                        f"The objects have more than {limits.max_columns} distinct keys.",
                        line=line,
                    )
                kinds = keys[key] = _ColumnKinds()
            _check_value(value, key, line, limits)
            kinds.add(value)
    if not keys:
        raise ImportFailure("CorruptFile", "The JSON file holds no objects with keys.")
    names = normalise_names(list(keys))
    columns = [
        Column(name, kinds.pg_type) for name, kinds in zip(names, keys.values(), strict=True)
    ]
    table = TableSource(
        name=table_name,
        columns=columns,
        batches=lambda: _payload(path, list(keys), [c.pg_type for c in columns], limits),
        origin=origin,
        row_origin=lambda row: _row_origin(path, row, limits),
        row_count=rows,
    )
    return Parsed(format="json", tables=[table])


def _check_value(value: Any, key: str, line: int, limits: ImportLimits) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise ImportFailure(
                "InvalidValue",
                "A string holds a NUL character (\\u0000), which Postgres cannot store.",
                line=line,
                column=key[:100],
            )
    elif isinstance(value, dict | list):
        if _depth(value) > limits.max_json_depth:
            raise ImportFailure(
                "InvalidValue",
                f"A value is nested deeper than {limits.max_json_depth} levels.",
                line=line,
                column=key[:100],
            )
        if "\\u0000" in json.dumps(value):
            raise ImportFailure(
                "InvalidValue",
                "A value holds a NUL character (\\u0000), which Postgres cannot store.",
                line=line,
                column=key[:100],
            )


def _depth(value: Any) -> int:
    """Nesting depth of a decoded value (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


def _rows(path: Path, limits: ImportLimits) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, object) for every row: array elements, or a stream of top-level objects."""
    reader = _Reader(path, limits)
    try:
        first = reader.next_char()
        if first == "[":
            reader.skip(1)
            yield from reader.array_elements()
        else:
            yield from reader.object_stream()
    except UnicodeDecodeError as error:
        raise ImportFailure(
            "EncodingError", "The JSON file is not UTF-8: save it as UTF-8 and import it again."
        ) from error
    finally:
        reader.close()


class _Reader:
    """Decodes top-level JSON values one at a time from a growing, sliding text buffer."""

    def __init__(self, path: Path, limits: ImportLimits) -> None:
        self._file = path.open("r", encoding="utf-8-sig")
        self._buffer = ""
        self._position = 0
        self._line = 1
        self._eof = False
        self._cap = max(64 * 1024 * 1024, 2 * limits.max_field_bytes)

    def close(self) -> None:
        self._file.close()

    def next_char(self) -> str:
        """The next non-blank character, without consuming it ('' at the end)."""
        while True:
            blank = _BLANK.match(self._buffer, self._position)
            self._consume(blank.end() - self._position if blank else 0)
            if self._position < len(self._buffer) or not self._fill():
                return self._buffer[self._position : self._position + 1]

    def skip(self, count: int) -> None:
        self._consume(count)

    def array_elements(self) -> Iterator[tuple[int, dict[str, Any]]]:
        if self.next_char() == "]":
            self.skip(1)
            self._expect_end()
            return
        while True:
            yield self._object()
            separator = self.next_char()
            self.skip(1)
            if separator == "]":
                self._expect_end()
                return
            if separator != ",":
                raise self._corrupt("expected ',' or ']' between array elements")

    def object_stream(self) -> Iterator[tuple[int, dict[str, Any]]]:
        while self.next_char():
            yield self._object()

    def _expect_end(self) -> None:
        if self.next_char():
            raise self._corrupt("unexpected text after the top-level array")

    def _object(self) -> tuple[int, dict[str, Any]]:
        first = self.next_char()
        line = self._line
        if not first:
            raise self._corrupt("the file ends in the middle of the data")
        if first != "{":
            raise ImportFailure(
                "InvalidValue", "Every row must be a JSON object ({...}).", line=line
            )
        while True:
            try:
                value, end = _DECODER.raw_decode(self._buffer, self._position)
            except ValueError as error:
                if self._fill():
                    continue
                at = getattr(error, "pos", self._position)
                line = self._line + self._buffer.count("\n", self._position, at)
                raise self._corrupt(str(error), line) from error
            self._consume(end - self._position)
            return line, value

    def _fill(self) -> bool:
        """Read more text; False at the end of the file."""
        if self._eof:
            return False
        if len(self._buffer) - self._position > self._cap:
            raise ImportFailure(
                "TooLarge", f"A row is longer than {self._cap} bytes.", line=self._line
            )
        data = self._file.read(_READ_CHARS)
        self._buffer = self._buffer[self._position :] + data
        self._position = 0
        self._eof = not data
        return bool(data)

    def _consume(self, count: int) -> None:
        end = self._position + count
        self._line += self._buffer.count("\n", self._position, end)
        self._position = end

    def _corrupt(self, reason: str, line: int | None = None) -> ImportFailure:
        return ImportFailure(
            "CorruptFile", f"The JSON file cannot be parsed: {reason}.", line=line or self._line
        )


def _payload(
    path: Path, keys: list[str], pg_types: list[str], limits: ImportLimits
) -> Iterator[bytes]:
    pieces: list[str] = []
    size = 0
    for _, row in _rows(path, limits):
        line = ",".join(
            _cell(row.get(key), pg_type) for key, pg_type in zip(keys, pg_types, strict=True)
        )
        pieces.append(line)
        size += len(line) + 1
        if size >= _PAYLOAD_CHUNK_BYTES:
            yield ("\n".join(pieces) + "\n").encode()
            pieces, size = [], 0
    if pieces:
        yield ("\n".join(pieces) + "\n").encode()


def _cell(value: Any, pg_type: str) -> str:
    """One CSV cell: NULL unquoted, every other value quoted (so "" stays an empty string)."""
    if value is None:
        return ""
    if pg_type == "jsonb" or (pg_type == "text" and not isinstance(value, str)):
        text = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = value if isinstance(value, str) else repr(value)
    return '"' + text.replace('"', '""') + '"'


def _row_origin(path: Path, row: int, limits: ImportLimits) -> dict[str, Any]:
    for index, (line, _) in enumerate(_rows(path, limits), 1):
        if index == row:
            return {"line": line}
    return {"row": row}
