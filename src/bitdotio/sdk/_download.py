"""Streaming an export's ``download_url`` into a file, without the API key (contract §7.3).

A download link carries its own signature, so no ``Authorization`` header is sent: the key
never travels to whatever host the link names.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import IO

import requests

from bitdotio import config
from bitdotio.sdk._http import CONNECT_TIMEOUT_S, SDK_USER_AGENT, api_error

__all__ = ["Progress", "download_to_file", "download_to_path"]

# progress(done_bytes, total_bytes): total is the Content-Length, None when the server sent none.
Progress = Callable[[int, int | None], None]

_CHUNK_BYTES = 64 * 1024


def _content_length(response: requests.Response) -> int | None:
    try:
        return int(response.headers["Content-Length"])
    except (KeyError, ValueError):
        return None


def download_to_file(
    url: str,
    out: IO[bytes],
    *,
    progress: Progress | None = None,
    read_timeout_s: float | None = None,
    user_agent: str = SDK_USER_AGENT,
) -> int:
    """Stream ``url`` into ``out``; return the number of bytes written.

    ``progress`` is called once with 0 bytes when the headers have arrived, then after each
    chunk. ``read_timeout_s`` defaults to the ``http-timeout-s`` setting.

    Raises ``ApiError`` for a status >= 400 (an expired or altered link is a 403, a file no
    longer kept a 404), ``requests.exceptions.RequestException`` for network failures and for
    a body shorter than its Content-Length, and ``OSError`` when ``out`` cannot be written.
    """
    if read_timeout_s is None:
        read_timeout_s = config.load().http_timeout_s
    # identity: the bytes on the wire are the file, so Content-Length is its size.
    headers = {"User-Agent": user_agent, "Accept-Encoding": "identity"}
    timeout = (CONNECT_TIMEOUT_S, read_timeout_s)
    with (
        requests.Session() as session,
        session.get(url, headers=headers, stream=True, timeout=timeout) as response,
    ):
        if response.status_code >= 400:
            raise api_error(response)
        total_bytes = _content_length(response)
        done_bytes = 0
        if progress:
            progress(0, total_bytes)
        for chunk in response.iter_content(_CHUNK_BYTES):
            out.write(chunk)
            done_bytes += len(chunk)
            if progress:
                progress(done_bytes, total_bytes)
    # urllib3 already rejects a short body; this also covers a server that closes early
    # without it noticing.
    if total_bytes is not None and done_bytes != total_bytes:
        raise requests.exceptions.ChunkedEncodingError(
            f"The download ended after {done_bytes} of {total_bytes} bytes"
        )
    return done_bytes


def download_to_path(
    url: str,
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    progress: Progress | None = None,
    read_timeout_s: float | None = None,
    user_agent: str = SDK_USER_AGENT,
) -> int:
    """Download ``url`` to ``path``; return its size in bytes.

    The bytes go to a temporary file in the same directory, which replaces ``path`` only once
    complete; on any failure it is removed and ``path`` is left as it was. Without
    ``overwrite``, an existing ``path`` raises ``FileExistsError``. Raises what
    ``download_to_file`` raises.
    """
    target = Path(path)
    if not overwrite and target.exists():
        raise FileExistsError(f"{target} already exists")
    temp = target.with_name(f".{target.name[:32]}.{secrets.token_hex(6)}.part")
    # O_EXCL: never write through a file or link someone else put there. Mode 0o666 lets the
    # umask decide the permissions, as for any other file the user creates.
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as out:
            size_bytes = download_to_file(
                url,
                out,
                progress=progress,
                read_timeout_s=read_timeout_s,
                user_agent=user_agent,
            )
            out.flush()
            os.fsync(out.fileno())
        _publish(temp, target, overwrite=overwrite)
    except BaseException:
        with suppress(FileNotFoundError):
            temp.unlink()
        raise
    return size_bytes


def _publish(temp: Path, target: Path, *, overwrite: bool) -> None:
    """Move the complete ``temp`` onto ``target`` in one step."""
    if overwrite:
        os.replace(temp, target)
        return
    try:
        os.link(temp, target)  # fails, atomically, if target appeared meanwhile
    except FileExistsError:
        raise FileExistsError(f"{target} already exists") from None
    except OSError:  # a file system without hard links
        if target.exists():
            raise FileExistsError(f"{target} already exists") from None
        os.replace(temp, target)
        return
    temp.unlink()
