"""The embedded Postgres: initdb once under ``<data-dir>/pg``, start on a private Unix socket,
stop with ``pg_ctl stop -m fast``.

The socket directory ``<data-dir>/run`` is mode 0700 and owned by the user Postgres runs as, so
only that user and the platform (the same user, or root) can reach it; ``local trust`` is
therefore safe there (security.md §1.6) and no TCP listener is opened. As root, Postgres runs
as an unprivileged system user, created on first use; only ``<data-dir>/pg`` and
``<data-dir>/run`` change owner.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bitdotio.cluster.binaries import find_bindir
from bitdotio.errors import BitError

__all__ = ["SUPERUSER", "EmbeddedPostgres"]

log = logging.getLogger("bitdotio.cluster")

SUPERUSER = "bitio"  # the bootstrap superuser initdb creates; only the platform uses it
_PORT = 5432  # only names the socket file; nothing listens on TCP


@dataclass(frozen=True)
class _RunAs:
    uid: int
    gid: int
    name: str


def _ensure_system_user(name: str) -> _RunAs:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        nologin = shutil.which("nologin") or "/usr/sbin/nologin"
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--user-group", "--shell", nologin, name],
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(name)
        log.info("created system user %s for the embedded Postgres", name)
    return _RunAs(entry.pw_uid, entry.pw_gid, name)


class EmbeddedPostgres:
    """One Postgres cluster in ``<data-dir>/pg``, reachable only through ``<data-dir>/run``."""

    def __init__(
        self,
        data_dir: str | Path,
        *,
        bindir: str | None = None,
        system_user: str = "bitio-postgres",
        max_connections: int = 200,
        fsync: bool = True,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.pg_dir = self.data_dir / "pg"
        self.socket_dir = self.data_dir / "run"
        self.log_file = self.pg_dir / "server.log"
        self.bindir = find_bindir(bindir)
        self.max_connections = max_connections
        self.fsync = fsync
        self._system_user = system_user
        self._run_as: _RunAs | None = None
        self._lock_file: int | None = None

    # --- public lifecycle

    def conninfo(self, dbname: str, user: str = SUPERUSER) -> str:
        return f"host={self.socket_dir} port={_PORT} dbname={dbname} user={user}"

    def try_lock(self) -> bool:
        """Take the data directory's owner lock (held by ``bit serve``); False if taken.

        The holder stops Postgres on exit; other tools (``bit admin``) only borrow it.
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.data_dir / "serve.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._lock_file = fd
        return True

    def unlock(self) -> None:
        if self._lock_file is not None:
            os.close(self._lock_file)
            self._lock_file = None

    def start(self) -> None:
        """initdb if needed, then start (or adopt a server already running on this dir)."""
        self._prepare_dirs()
        if not (self.pg_dir / "PG_VERSION").exists():
            self._initdb()
        self._write_config()
        if self.is_running():
            log.info("adopting the Postgres already running in %s", self.pg_dir)
        else:
            self._clear_stale_locks()
            self._pg_ctl("start", "-w", "-t", "60", "-l", str(self.log_file))

    def stop(self) -> None:
        if self.is_running():
            self._pg_ctl("stop", "-m", "fast", "-w", "-t", "60")

    def is_running(self) -> bool:
        """A postmaster for this data directory is alive.

        After a crash, the pid in postmaster.pid may belong to an unrelated process, so where
        /proc exists the process must also be a postgres started on this directory.
        """
        try:
            pid = int((self.pg_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return False
        cmdline = Path(f"/proc/{pid}/cmdline")
        if Path("/proc/self").exists():
            try:
                argv = cmdline.read_bytes().split(b"\0")
            except OSError:
                return False
            return any(a.endswith(b"postgres") for a in argv[:1]) and (
                str(self.pg_dir).encode() in argv
            )
        result = self._run(
            [str(self.bindir / "pg_ctl"), "status", "-D", str(self.pg_dir)], check=False
        )
        return result.returncode == 0

    # --- steps

    def _prepare_dirs(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            self._run_as = _ensure_system_user(self._system_user)
            # The Postgres user must traverse the data directory to reach pg/ and run/.
            mode = self.data_dir.stat().st_mode & 0o7777
            os.chmod(self.data_dir, mode | 0o011)
        for directory in (self.socket_dir,):
            directory.mkdir(mode=0o700, exist_ok=True)
            self._own(directory)
            os.chmod(directory, 0o700)
        if self._run_as is not None:
            probe = self._run(["test", "-w", str(self.socket_dir)], check=False)
            if probe.returncode != 0:
                raise BitError(
                    "BIT005",
                    f"The system user {self._run_as.name} cannot reach {self.socket_dir}: every "
                    f"parent directory of the data directory must be searchable by it (o+x). "
                    f"Use a data directory such as /var/lib/bitio.",
                )

    def _own(self, path: Path) -> None:
        if self._run_as is not None:
            os.chown(path, self._run_as.uid, self._run_as.gid)

    def _initdb(self) -> None:
        """initdb into a scratch directory, then rename: a crash never leaves half a cluster."""
        scratch = self.data_dir / "pg.initdb"
        if scratch.exists():
            shutil.rmtree(scratch)
        scratch.mkdir(mode=0o700)
        self._own(scratch)
        self._run(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(scratch),
                "-U",
                SUPERUSER,
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-instructions",
            ]
        )
        (scratch / "pg_hba.conf").write_text(
            "# bit.io, self-hosted: only the private Unix socket, whose directory is the "
            "credential\nlocal all all trust\n"
        )
        with open(scratch / "postgresql.conf", "a") as conf:
            conf.write("\ninclude_if_exists = 'bitio.conf'\n")
        self._own(scratch / "pg_hba.conf")
        scratch.rename(self.pg_dir)
        log.info("initialised the embedded Postgres in %s", self.pg_dir)

    def _write_config(self) -> None:
        lines = {
            "listen_addresses": "''",
            "unix_socket_directories": f"'{self.socket_dir}'",
            "unix_socket_permissions": "0700",
            "port": str(_PORT),
            "max_connections": str(self.max_connections),
            "fsync": "on" if self.fsync else "off",
            "synchronous_commit": "on" if self.fsync else "off",
            "full_page_writes": "on" if self.fsync else "off",
            "temp_file_limit": "'5GB'",
            "password_encryption": "'scram-sha-256'",
            "log_min_messages": "warning",
            "log_connections": "off",
        }
        path = self.pg_dir / "bitio.conf"
        path.write_text("".join(f"{k} = {v}\n" for k, v in lines.items()))
        self._own(path)

    def _clear_stale_locks(self) -> None:
        """After a crash, postmaster.pid may name a pid that is now another process."""
        for stale in (self.pg_dir / "postmaster.pid", self.socket_dir / f".s.PGSQL.{_PORT}.lock"):
            if stale.exists():
                log.warning("removing stale %s left by a crashed Postgres", stale)
                stale.unlink()

    def _pg_ctl(self, *args: str) -> None:
        try:
            self._run([str(self.bindir / "pg_ctl"), *args, "-D", str(self.pg_dir)])
        except subprocess.CalledProcessError as exc:
            tail = ""
            with contextlib.suppress(OSError):
                tail = "\n".join(self.log_file.read_text(errors="replace").splitlines()[-15:])
            raise BitError(
                "BIT003",
                f"pg_ctl {args[0]} failed ({exc.returncode}): {exc.stderr or exc.stdout}\n{tail}",
            ) from None

    def _run(self, argv: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        run_as = self._run_as
        return subprocess.run(
            argv,
            check=check,
            capture_output=True,
            text=True,
            cwd=str(self.data_dir),
            env={"PATH": "/usr/local/bin:/usr/bin:/bin", "LC_ALL": "C.UTF-8"},
            user=run_as.uid if run_as else None,
            group=run_as.gid if run_as else None,
            extra_groups=[] if run_as else None,
        )
