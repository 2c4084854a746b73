"""ZIP archives: checks before extraction, skipped members and table names."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import pytest

from bitdotio.imports.read import read_file
from bitdotio.imports.source import ImportFailure, ImportLimits, Parsed
from bitdotio.imports.zip_reader import read_zip


def write_zip(path: Path, members: dict[str, bytes | str]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def read(path: Path, limits: ImportLimits | None = None) -> Parsed:
    return read_file(path, table_name="up", infer_header="auto", limits=limits or ImportLimits())


def test_one_table_takes_the_table_name_and_junk_is_skipped(tmp_path: Path) -> None:
    path = write_zip(
        tmp_path / "a.zip",
        {"dir/": "", "dir/cities.csv": "city\nParis\n", "__MACOSX/._x": "x", ".hidden": "x"},
    )
    parsed = read(path)
    assert parsed.format == "zip"
    assert [t.name for t in parsed.tables] == ["up"]
    assert sorted(s.name for s in parsed.skipped) == [".hidden", "__MACOSX/._x"]
    assert b"".join(parsed.tables[0].batches()) == b"Paris\n"


def test_several_tables_are_named_after_their_members(tmp_path: Path) -> None:
    path = write_zip(
        tmp_path / "a.zip",
        {"a.csv": "x\n1\n", "b/A.json": '[{"y": 1}]', "c.csv": "z\n2\n"},
    )
    assert [t.name for t in read(path).tables] == ["up_a", "up_A_2", "up_c"]


def test_scratch_files_go_with_the_result(tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    parsed = read(
        write_zip(tmp_path / "a.zip", {"a.csv": "x\n1\n"}), ImportLimits(scratch_dir=str(scratch))
    )
    assert any(scratch.iterdir())
    del parsed
    assert not any(scratch.iterdir())


def _symlink(path: Path) -> Path:
    info = zipfile.ZipInfo("link.csv")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(info, "/etc/passwd")
    return path


def _nested(path: Path) -> Path:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("a.csv", "x\n1\n")
    return write_zip(path, {"inner.zip": inner.getvalue()})


@pytest.mark.parametrize(
    ("make", "limits", "error_type"),
    [
        (lambda p: write_zip(p, {"/abs.csv": "x\n1\n"}), ImportLimits(), "UnsupportedFormat"),
        (lambda p: write_zip(p, {"a/../../b.csv": "x\n1\n"}), ImportLimits(), "UnsupportedFormat"),
        (_symlink, ImportLimits(), "UnsupportedFormat"),
        (_nested, ImportLimits(), "UnsupportedFormat"),
        (lambda p: write_zip(p, {"a.csv": "0" * (2 << 20)}), ImportLimits(), "TooLarge"),
        (
            lambda p: write_zip(p, {"a.csv": "x\n", "b.csv": "y\n"}),
            ImportLimits(zip_max_members=1),
            "TooLarge",
        ),
        (
            lambda p: write_zip(p, {"a.csv": "x\n" * 100}),
            ImportLimits(zip_max_total_bytes=100),
            "TooLarge",
        ),
        (lambda p: write_zip(p, {"dir/": ""}), ImportLimits(), "CorruptFile"),
    ],
)
def test_hostile_archives_fail_before_extraction(
    tmp_path: Path, make: object, limits: ImportLimits, error_type: str
) -> None:
    path = make(tmp_path / "a.zip")  # type: ignore[operator]
    with pytest.raises(ImportFailure) as failure:
        read(path, limits)
    assert failure.value.error_type == error_type


def test_overlapping_members_are_refused(tmp_path: Path) -> None:
    """Many central-directory entries over one compressed stream (gh-109858's bomb)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.csv", "x\n" + "1\n" * 100_000)
    data = bytearray(buffer.getvalue())
    # Copy the one central-directory entry under a second name pointing at the same data.
    end = data.rindex(b"PK\x05\x06")
    start = data.index(b"PK\x01\x02")
    entry = bytes(data[start:end])
    twin = entry.replace(b"a.csv", b"b.csv")
    eocd = bytearray(data[end:])
    eocd[8:10] = (2).to_bytes(2, "little")  # entries on this disk
    eocd[10:12] = (2).to_bytes(2, "little")  # entries in all
    eocd[12:16] = (len(entry) * 2).to_bytes(4, "little")  # central directory size
    path = tmp_path / "overlap.zip"
    path.write_bytes(bytes(data[:start]) + entry + twin + bytes(eocd))
    with zipfile.ZipFile(path) as check:
        assert [i.filename for i in check.infolist()] == ["a.csv", "b.csv"]
    with pytest.raises(ImportFailure) as failure:
        read_zip(path, table_name="t", infer_header="auto", limits=ImportLimits())
    assert failure.value.error_type == "CorruptFile"
    assert "overlap" in failure.value.message
