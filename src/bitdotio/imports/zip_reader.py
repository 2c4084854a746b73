"""ZIP archives: every member is checked before anything is extracted, then read as its own file.

Rules (docs/reference/imports.md, "ZIP"; security.md §4.3): at most ``zip_max_members`` files,
declared sizes summing to at most ``zip_max_total_bytes``, no members whose compressed data
overlap, no member over 1 MiB that inflates
more than ``zip_max_ratio`` times, no absolute paths, ``..``, symbolic links, encrypted members
or archives inside the archive. Directories are passed over; ``__MACOSX/`` and dotfiles are
reported as skipped. Extraction counts bytes and stops at the declared size.
"""

from __future__ import annotations

import itertools
import shutil
import stat
import tempfile
import weakref
import zipfile
from pathlib import Path, PurePosixPath

from bitdotio.imports.columns import derived_names
from bitdotio.imports.source import (
    ImportFailure,
    ImportLimits,
    InferHeader,
    Parsed,
    Skipped,
    TableSource,
)

__all__ = ["check_archive", "read_zip"]

_RATIO_CHECK_MIN_BYTES = 1024 * 1024
_COPY_BYTES = 1024 * 1024
_NESTED_FORMATS = frozenset({"zip"})


def read_zip(
    path: Path, *, table_name: str, infer_header: InferHeader, limits: ImportLimits
) -> Parsed:
    """One or more tables from the archive's members: see the module docstring."""
    try:
        with zipfile.ZipFile(path) as archive:
            check_archive(archive.infolist(), limits, "ZIP")
            members, skipped = _plan(archive.infolist())
            scratch = Path(tempfile.mkdtemp(prefix="bitio-zip-", dir=limits.scratch_dir))
            try:
                tables = _read_members(archive, members, scratch, table_name, infer_header, limits)
            except BaseException:
                shutil.rmtree(scratch, ignore_errors=True)
                raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as error:
        raise ImportFailure("CorruptFile", f"The ZIP file cannot be read: {error}.") from error
    parsed = Parsed(format="zip", tables=tables, skipped=skipped)
    weakref.finalize(parsed, shutil.rmtree, scratch, ignore_errors=True)
    return parsed


def check_archive(infos: list[zipfile.ZipInfo], limits: ImportLimits, kind: str) -> None:
    """The checks any ZIP container gets before anything in it is read (ZIP imports, and the
    XLSX and ODS files that are ZIPs): member count, total declared size, each member's ratio,
    and members whose compressed data overlap: the bomb that lists one compressed stream many
    times, which zipfile itself only refuses from CPython 3.11.8 (gh-109858; security.md
    §4.3) and which slips past per-member ratios."""
    files = [info for info in infos if not info.is_dir()]
    if len(files) > limits.zip_max_members:
        raise ImportFailure(
            "TooLarge",
            f"The {kind} file has {len(files)} members; at most {limits.zip_max_members} "
            "are allowed.",
            members=len(files),
        )
    total = sum(info.file_size for info in files)
    if total > limits.zip_max_total_bytes:
        raise ImportFailure(
            "TooLarge",
            f"The {kind} file unpacks to {total} bytes; at most {limits.zip_max_total_bytes} "
            "are allowed.",
            uncompressed_bytes=total,
        )
    for info in files:
        if info.file_size > _RATIO_CHECK_MIN_BYTES and info.file_size > limits.zip_max_ratio * max(
            info.compress_size, 1
        ):
            raise ImportFailure(
                "TooLarge",
                f"The {kind} member {info.filename[:100]!r} inflates more than "
                f"{limits.zip_max_ratio} times (a zip bomb?).",
                member=info.filename[:100],
            )
    entries = sorted((info.header_offset, info.compress_size) for info in infos)
    for (offset, size), (next_offset, _) in itertools.pairwise(entries):
        if next_offset < offset + max(size, 1):  # a local header is at least 30 bytes
            raise ImportFailure(
                "CorruptFile",
                f"The {kind} file has members that overlap each other (a zip bomb?).",
            )


def _plan(infos: list[zipfile.ZipInfo]) -> tuple[list[zipfile.ZipInfo], list[Skipped]]:
    """The members to read and those skipped, or an ImportFailure for a hostile member."""
    members: list[zipfile.ZipInfo] = []
    skipped: list[Skipped] = []
    for info in infos:
        if info.is_dir():
            continue
        _check_member(info)
        parts = PurePosixPath(info.filename.replace("\\", "/")).parts
        if parts[0] == "__MACOSX" or any(part.startswith(".") for part in parts):
            skipped.append(Skipped(info.filename, "member", "hidden or macOS metadata file"))
        else:
            members.append(info)
    if not members:
        raise ImportFailure("CorruptFile", "The ZIP file holds no files to import.")
    return members, skipped


def _check_member(info: zipfile.ZipInfo) -> None:
    name = info.filename
    unix_mode = info.external_attr >> 16
    parts = name.replace("\\", "/").split("/")
    reason = ""
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        reason = "has an absolute path"
    elif ".." in parts:
        reason = "has '..' in its path"
    elif stat.S_ISLNK(unix_mode):
        reason = "is a symbolic link"
    elif info.flag_bits & 0x1:
        reason = "is encrypted"
    if reason:
        raise ImportFailure(
            "UnsupportedFormat", f"The ZIP member {name[:100]!r} {reason}.", member=name[:100]
        )


def _read_members(
    archive: zipfile.ZipFile,
    members: list[zipfile.ZipInfo],
    scratch: Path,
    table_name: str,
    infer_header: InferHeader,
    limits: ImportLimits,
) -> list[TableSource]:
    from bitdotio.imports.detect import detect_format
    from bitdotio.imports.read import read_file

    stems = [PurePosixPath(info.filename).stem for info in members]
    tables: list[TableSource] = []
    for index, (info, member_table) in enumerate(
        zip(members, derived_names(table_name, stems), strict=True)
    ):
        target = scratch / f"member-{index}"
        _extract(archive, info, target)
        if detect_format(target) in _NESTED_FORMATS:
            raise ImportFailure(
                "UnsupportedFormat",
                f"The ZIP member {info.filename[:100]!r} is itself an archive.",
                member=info.filename[:100],
            )
        parsed = read_file(
            target, table_name=member_table, infer_header=infer_header, limits=limits
        )
        for table in parsed.tables:
            table.origin = f"{table.origin} in ZIP member {info.filename!r}"
        tables.extend(parsed.tables)
        if len(tables) > limits.max_tables:
            raise ImportFailure(
                "TooLarge", f"The ZIP file yields more than {limits.max_tables} tables."
            )
    if len(tables) == 1:
        tables[0].name = table_name
    return tables


def _extract(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path) -> None:
    """Copy one member out, refusing to write more than its declared size."""
    written = 0
    with archive.open(info) as source, target.open("wb") as out:
        while data := source.read(_COPY_BYTES):
            written += len(data)
            if written > info.file_size:
                raise ImportFailure(
                    "CorruptFile",
                    f"The ZIP member {info.filename[:100]!r} is larger than it says.",
                    member=info.filename[:100],
                )
            out.write(data)
