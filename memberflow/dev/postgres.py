"""A throwaway PostgreSQL server on loopback, from Debian's ``postgresql`` package.

``initdb`` into a fresh directory, ``pg_ctl start`` on a free 127.0.0.1 port
(trust authentication, loopback only), ``pg_ctl stop`` when done -- always,
even when the block fails.  PostgreSQL refuses to run as root, so as root the
server runs as the ``postgres`` system user, in a directory it owns.  The
test suite and the benchmarks use it; production points
``MEMBERFLOW_READMODEL_URL`` at a real server.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class PostgresMissing(RuntimeError):
    """Debian's postgresql package is not installed (``make system-deps`` installs it)."""


def pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if not found:
        raise PostgresMissing("PostgreSQL is not installed: run `make system-deps` (Debian's postgresql package)")
    return Path(found[-1]).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def local_postgres(database: str = "memberflow") -> Iterator[str]:
    """Start a server, create ``database``, yield its SQLAlchemy URL; stop and delete it afterwards."""
    bindir = pg_bin()
    as_root = os.geteuid() == 0
    owner = pwd.getpwnam("postgres") if as_root else None
    root = Path(tempfile.mkdtemp(prefix="memberflow-pg-"))
    if owner is not None:
        os.chown(root, owner.pw_uid, owner.pw_gid)
    user = owner.pw_name if owner is not None else pwd.getpwuid(os.geteuid()).pw_name
    port = free_port()
    data, log = root / "data", root / "server.log"

    def run(*argv: str) -> None:
        subprocess.run([str(bindir / argv[0]), *argv[1:]], check=True, capture_output=True, timeout=120,
                       user=owner.pw_uid if owner is not None else None, cwd=root)

    started = False
    try:
        run("initdb", "-D", str(data), "-U", user, "--auth=trust", "-E", "UTF8", "--no-sync")
        options = f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        run("pg_ctl", "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start")
        started = True
        run("createdb", "-h", "127.0.0.1", "-p", str(port), "-U", user, database)
        yield f"postgresql+psycopg://{user}@127.0.0.1:{port}/{database}"
    finally:
        if started:
            run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)
