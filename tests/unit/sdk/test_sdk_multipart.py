"""The streamed multipart body: exact bytes, Content-Length, unseekable input (contract §3.3)."""

import io
import os

import pytest

from bitdotio.sdk._multipart import MultipartBody


def test_fields_then_file_with_length() -> None:
    body = MultipartBody([("table_name", "t")], "file", 'a"b', io.BytesIO(b"1,2\n"))
    boundary = body.content_type.rsplit("=", 1)[1]
    expected = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="table_name"\r\n\r\nt\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a%22b"\r\n\r\n'
        f"1,2\n\r\n--{boundary}--\r\n"
    ).encode()
    assert body.len == len(expected)
    assert b"".join(body) == expected


def test_length_counts_from_the_current_position() -> None:
    file = io.BytesIO(b"skip:data")
    file.seek(5)
    body = MultipartBody([], "file", "t", file)
    assert body.len == len(b"".join(body))
    assert b"skip" not in b"".join(MultipartBody([], "file", "t", io.BytesIO(b"")))


def test_small_reads_reassemble_the_body() -> None:
    body = MultipartBody([("a", "b")], "file", "t", io.BytesIO(b"x" * 1000))
    chunks = []
    while chunk := body.read(7):
        assert len(chunk) <= 7
        chunks.append(chunk)
    assert len(b"".join(chunks)) == body.len
    assert b"".join(chunks).count(b"x" * 1000) == 1


def test_unseekable_input_has_no_length() -> None:
    read_end, write_end = os.pipe()
    os.write(write_end, b"a,b\n")
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        body = MultipartBody([], "file", "t", pipe)
        assert body.len is None
        assert b"a,b\n" in b"".join(body)


def test_text_files_are_rejected() -> None:
    with pytest.raises(TypeError, match="bytes-like object is required, not 'str'"):
        MultipartBody([], "file", "t", io.StringIO("a"))  # type: ignore[arg-type]
