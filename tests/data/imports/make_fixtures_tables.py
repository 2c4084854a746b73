"""Regenerate the workbook, SQLite and Parquet fixtures: ``python make_fixtures_tables.py``.

Workbooks are written as raw XML (xlsx, ods) so that hostile variants are easy to make; the
xls copy needs ``xlwt`` (``pip install xlwt``), used only here. Expected values live in
``expected.json``; keep them in step by hand when this script changes.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

HERE = Path(__file__).resolve().parent

# One table per non-empty sheet. Cell kinds: int/float → number, str → text, bool, date,
# datetime, None → empty, ("error", "#DIV/0!") → an error cell.
_HEADER = ["id", "city", "population", "area km2", "founded", "updated", "capital"]
CITIES: list[list[Any]] = [
    [*_HEADER, "code", "mixed", "err"],
    [1, "Paris", 2102650, 105.4, dt.date(1900, 3, 1), dt.datetime(2024, 1, 2, 3, 4, 5), True,
     "075", 1, ("error", "#DIV/0!")],
    [2, "Lyon", 522250, 47.87, dt.date(1989, 12, 31), dt.datetime(2024, 5, 6, 7, 8, 9), False,
     "069", "abc", 5],
    [3, 'Nice, "Côte"', None, 71.92, None, None, None, "", True, ("error", "#N/A")],
]  # fmt: skip
SALES: list[list[Any]] = [
    ["Sales rep", "  amount ", "amount"],
    ["Ann", 10.5, 1],
    ["Bob", 3, 2],
]
SHEETS: list[tuple[str, list[list[Any]]]] = [
    ("Cities", CITIES),
    ("Empty", []),
    ("Sales 2024", SALES),
]
ONE_SHEET: list[tuple[str, list[list[Any]]]] = [("Only", SALES)]

_EXCEL_EPOCH = dt.datetime(1899, 12, 30)


# -- xlsx ------------------------------------------------------------------------------------


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _xlsx_cell(ref: str, value: Any, strings: list[str]) -> str:
    if value is None:
        return ""
    if isinstance(value, tuple):
        return f'<c r="{ref}" t="e"><v>{escape(value[1])}</v></c>'
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, dt.datetime):
        serial = (value - _EXCEL_EPOCH) / dt.timedelta(days=1)
        return f'<c r="{ref}" s="2"><v>{serial!r}</v></c>'
    if isinstance(value, dt.date):
        serial = (dt.datetime.combine(value, dt.time()) - _EXCEL_EPOCH).days
        return f'<c r="{ref}" s="1"><v>{serial}</v></c>'
    if isinstance(value, int | float):
        return f'<c r="{ref}"><v>{value!r}</v></c>'
    strings.append(value)
    return f'<c r="{ref}" t="s"><v>{len(strings) - 1}</v></c>'


def _xlsx_sheet(rows: list[list[Any]], strings: list[str], doctype: str = "") -> str:
    body = "".join(
        f'<row r="{r + 1}">'
        + "".join(_xlsx_cell(f"{_column_letter(c)}{r + 1}", v, strings) for c, v in enumerate(row))
        + "</row>"
        for r, row in enumerate(rows)
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>{doctype}'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"<sheetData>{body}</sheetData></worksheet>"
    )


_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"


def _xlsx_parts(sheets: list[tuple[str, str]], strings: list[str]) -> dict[str, str]:
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="{_CT}.worksheet+xml"/>'
        for n in range(1, len(sheets) + 1)
    )
    sheet_refs = "".join(
        f'<sheet name="{escape(name)}" sheetId="{n}" r:id="rId{n}"/>'
        for n, (name, _) in enumerate(sheets, 1)
    )
    rels = "".join(
        f'<Relationship Id="rId{n}" Type="{_REL}/worksheet" Target="worksheets/sheet{n}.xml"/>'
        for n in range(1, len(sheets) + 1)
    )
    k = len(sheets)
    shared = "".join(f'<si><t xml:space="preserve">{escape(s)}</t></si>' for s in strings)
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>'
            f'<Override PartName="/xl/styles.xml" ContentType="{_CT}.styles+xml"/>'
            f'<Override PartName="/xl/sharedStrings.xml" ContentType="{_CT}.sharedStrings+xml"/>'
            f"{overrides}</Types>"
        ),
        "_rels/.rels": (
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_PKG_REL}">'
            f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>"
        ),
        "xl/workbook.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{_MAIN}" xmlns:r="{_REL}">'
            f"<sheets>{sheet_refs}</sheets></workbook>"
        ),
        "xl/_rels/workbook.xml.rels": (
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_PKG_REL}">{rels}'
            f'<Relationship Id="rId{k + 1}" Type="{_REL}/styles" Target="styles.xml"/>'
            f'<Relationship Id="rId{k + 2}" Type="{_REL}/sharedStrings" '
            'Target="sharedStrings.xml"/></Relationships>'
        ),
        "xl/styles.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="{_MAIN}">'
            '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm:ss"/>'
            '</numFmts><cellXfs count="3"><xf numFmtId="0"/>'
            '<xf numFmtId="14" applyNumberFormat="1"/><xf numFmtId="164" applyNumberFormat="1"/>'
            "</cellXfs></styleSheet>"
        ),
        "xl/sharedStrings.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{_MAIN}" count="{len(strings)}" '
            f'uniqueCount="{len(strings)}">{shared}</sst>'
        ),
    }
    for n, (_, xml) in enumerate(sheets, 1):
        parts[f"xl/worksheets/sheet{n}.xml"] = xml
    return parts


def _write_zip(path: Path, parts: dict[str, str], stored_first: str | None = None) -> None:
    def member(name: str) -> zipfile.ZipInfo:  # a fixed date: regenerating changes nothing
        return zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        if stored_first:
            archive.writestr(member(stored_first), parts.pop(stored_first), zipfile.ZIP_STORED)
        for name, text in parts.items():
            archive.writestr(member(name), text, zipfile.ZIP_DEFLATED)


def write_xlsx(path: Path, sheets: list[tuple[str, list[list[Any]]]]) -> None:
    strings: list[str] = []
    xml = [(name, _xlsx_sheet(rows, strings)) for name, rows in sheets]
    _write_zip(path, _xlsx_parts(xml, strings))


def write_hostile_xlsx(path: Path, doctype: str, entity: str) -> None:
    """A one-sheet workbook whose sheet XML declares entities and uses one in a cell."""
    strings: list[str] = []
    xml = _xlsx_sheet([["x"], [1]], strings, doctype).replace(
        '<c r="A2"><v>1</v></c>', f'<c r="A2" t="inlineStr"><is><t>{entity}</t></is></c>'
    )
    _write_zip(path, _xlsx_parts([("Sheet1", xml)], strings))


_LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">'
        for n in range(1, 10)
    )
    + "]>"
)
_XXE = '<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'


# -- ods -------------------------------------------------------------------------------------

_ODS_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"'
)


def _ods_cell(value: Any) -> str:
    if value is None or isinstance(value, tuple):  # ODS has no error cells: leave it empty
        return "<table:table-cell/>"
    if isinstance(value, bool):
        word = str(value).lower()
        return (
            f'<table:table-cell office:value-type="boolean" office:boolean-value="{word}">'
            f"<text:p>{word.upper()}</text:p></table:table-cell>"
        )
    if isinstance(value, dt.datetime | dt.date):
        return (
            f'<table:table-cell office:value-type="date" office:date-value="{value.isoformat()}">'
            f"<text:p>{value.isoformat()}</text:p></table:table-cell>"
        )
    if isinstance(value, int | float):
        return (
            f'<table:table-cell office:value-type="float" office:value="{value!r}">'
            f"<text:p>{value!r}</text:p></table:table-cell>"
        )
    return (
        f'<table:table-cell office:value-type="string"><text:p>{escape(value)}</text:p>'
        "</table:table-cell>"
    )


def write_ods(path: Path, sheets: list[tuple[str, list[list[Any]]]]) -> None:
    tables = "".join(
        f'<table:table table:name="{escape(name)}">'
        + "".join(
            "<table:table-row>" + "".join(map(_ods_cell, row)) + "</table:table-row>"
            for row in rows
        )
        + "</table:table>"
        for name, rows in sheets
    )
    mime = "application/vnd.oasis.opendocument.spreadsheet"
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
        'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
        'manifest:version="1.2"><manifest:file-entry manifest:full-path="/" '
        f'manifest:media-type="{mime}"/><manifest:file-entry manifest:full-path="content.xml" '
        'manifest:media-type="text/xml"/></manifest:manifest>'
    )
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {_ODS_NS}>'
        f"<office:body><office:spreadsheet>{tables}</office:spreadsheet></office:body>"
        "</office:document-content>"
    )
    parts = {"mimetype": mime, "META-INF/manifest.xml": manifest, "content.xml": content}
    _write_zip(path, parts, stored_first="mimetype")


# -- xls -------------------------------------------------------------------------------------


def write_xls(path: Path, sheets: list[tuple[str, list[list[Any]]]]) -> None:
    import xlwt  # type: ignore[import-untyped,import-not-found,unused-ignore]  # fixtures only

    date_style = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    datetime_style = xlwt.easyxf(num_format_str="YYYY-MM-DD HH:MM:SS")
    book = xlwt.Workbook()
    for name, rows in sheets:
        sheet = book.add_sheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is None or isinstance(value, tuple):  # xlwt writes no error cells
                    continue
                if isinstance(value, dt.datetime):
                    sheet.write(r, c, value, datetime_style)
                elif isinstance(value, dt.date):
                    sheet.write(r, c, value, date_style)
                else:
                    sheet.write(r, c, value)
    book.save(str(path))


# -- sqlite ----------------------------------------------------------------------------------

SHOP_SQL = """
CREATE TABLE "Order Lines" (
    "Book ID" INTEGER REFERENCES books(id),
    qty INTEGER NOT NULL,
    code INTEGER,
    coupon INTEGER REFERENCES coupons(id)
);
CREATE TABLE books (
    id INTEGER PRIMARY KEY,
    author_id INTEGER NOT NULL REFERENCES authors(id),
    title TEXT NOT NULL UNIQUE,
    price NUMERIC,
    rating REAL,
    in_stock BOOLEAN,
    added DATETIME,
    cover BLOB,
    notes
);
CREATE TABLE authors (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name VARCHAR(40) NOT NULL CHECK (length(name) > 0),
    born DATE
);
CREATE INDEX books_author ON books(author_id);
CREATE INDEX books_lower_title ON books(lower(title));
CREATE INDEX books_cheap ON books(price) WHERE price < 10;
CREATE VIEW cheap_books AS SELECT * FROM books WHERE price < 10;
CREATE TRIGGER books_touch AFTER UPDATE ON books BEGIN
    UPDATE books SET added = datetime('now') WHERE id = new.id;
END;
INSERT INTO authors (name, born) VALUES ('Ada', '1815-12-10'), ('Grace', '1906-12-09'),
    ('Anon', NULL);
INSERT INTO books VALUES
    (1, 1, 'Notes on the Engine', 12.5, 4.5, 1, '2024-01-02 03:04:05', x'00ff10', 7),
    (2, 2, 'Compilers, "vol. 1"', 9.99, NULL, 0, '2024-02-03T10:00:00', NULL, 8),
    (3, 1, 'Poems', NULL, 3.0, NULL, NULL, x'', NULL);
INSERT INTO "Order Lines" VALUES (1, 2, 100, NULL), (2, 1, 'abc', NULL), (NULL, 5, 7, NULL);
"""

HOSTILE_SQL = """
CREATE TABLE t (
    id INTEGER PRIMARY KEY,
    b TEXT GENERATED ALWAYS AS (hex(zeroblob(50000000))) VIRTUAL
);
INSERT INTO t (id) VALUES (1), (2);
CREATE VIEW v AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c;
"""


def write_sqlite(path: Path, script: str) -> None:
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as conn:
        conn.executescript(script)
    conn.close()


# -- parquet ---------------------------------------------------------------------------------


def write_parquet(path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    paris = dt.timezone(dt.timedelta(hours=1))
    columns = {
        "i8": pa.array([-128, None, 127], pa.int8()),
        "i16": pa.array([-32768, 0, None], pa.int16()),
        "i32": pa.array([2**31 - 1, None, -1], pa.int32()),
        "i64": pa.array([2**63 - 1, -(2**63), None], pa.int64()),
        "u32": pa.array([2**32 - 1, 0, None], pa.uint32()),
        "u64": pa.array([2**64 - 1, None, 1], pa.uint64()),
        "f32": pa.array([1.5, None, -0.25], pa.float32()),
        "f64": pa.array([0.1, float("nan"), 1e300], pa.float64()),
        "dec": pa.array([Decimal("12.34"), None, Decimal("-0.01")], pa.decimal128(10, 2)),
        "flag": pa.array([True, False, None]),
        "text": pa.array(["plain", "", None]),
        "quoted": pa.array(['a,b "c"', "line\nbreak", "\\."], pa.large_string()),
        "blob": pa.array([b"\x00\xff", b"", None], pa.binary()),
        "day": pa.array([dt.date(2024, 1, 2), None, dt.date(1999, 12, 31)], pa.date32()),
        "day64": pa.array([dt.date(2024, 1, 2), None, None], pa.date64()),
        "ts": pa.array(
            [dt.datetime(2024, 1, 2, 3, 4, 5, 123456), None, dt.datetime(2000, 1, 1)],
            pa.timestamp("us"),
        ),
        "tstz": pa.array(
            [dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=paris), None, None],
            pa.timestamp("ms", tz="Europe/Paris"),
        ),
        "clock": pa.array([dt.time(13, 14, 15), None, dt.time(0, 0, 0, 500000)], pa.time64("us")),
        "span": pa.array(
            [dt.timedelta(days=1, seconds=3661), None, dt.timedelta(0)], pa.duration("ms")
        ),
        "tags": pa.array([[1, 2], [], None], pa.list_(pa.int64())),
        "point": pa.array([{"x": 1, "y": "a"}, None, {"x": None, "y": "b"}]),
        "attrs": pa.array([[("k", 1)], None, []], pa.map_(pa.string(), pa.int64())),
        "color": pa.array(["red", None, "red"]).dictionary_encode(),
        "nothing": pa.array([None, None, None], pa.null()),
    }
    pq.write_table(pa.table(columns), path)


def main() -> None:
    write_xlsx(HERE / "workbook.xlsx", SHEETS)
    write_ods(HERE / "workbook.ods", SHEETS)
    write_xls(HERE / "workbook.xls", SHEETS)
    write_xlsx(HERE / "one_sheet.xlsx", ONE_SHEET)
    (HERE / "corrupt.xlsx").write_bytes((HERE / "workbook.xlsx").read_bytes()[:700])
    write_hostile_xlsx(HERE / "billion_laughs.xlsx", _LAUGHS, "&lol9;")
    write_hostile_xlsx(HERE / "xxe.xlsx", _XXE, "&xxe;")
    write_sqlite(HERE / "shop.sqlite", SHOP_SQL)
    write_sqlite(HERE / "hostile.sqlite", HOSTILE_SQL)
    write_parquet(HERE / "types.parquet")


if __name__ == "__main__":
    main()
