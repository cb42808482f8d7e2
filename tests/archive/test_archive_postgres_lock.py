"""The run lock on PostgreSQL: an advisory lock held by an open session, so a killed holder
keeps nothing, and a server restart does not hand the run to another process."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from clade.archive.errors import RunLocked

pytestmark = pytest.mark.postgres


def _as_server_user(args: list[str]) -> list[str]:
    return ["runuser", "-u", "nobody", "--", *args] if os.geteuid() == 0 else args


@pytest.fixture(scope="module")
def server(postgres_binaries):
    import psycopg  # noqa: F401  (the postgres extra is installed where the binaries are)

    root = Path(tempfile.mkdtemp(prefix="clade-pglock-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        for path in (root, sock):
            os.chown(path, 65534, 65534)

    def pg_ctl(*args: str) -> None:
        subprocess.run(_as_server_user([postgres_binaries["pg_ctl"], "-D", str(data), *args]),
                       check=True, capture_output=True)  # fmt: skip

    subprocess.run(_as_server_user([postgres_binaries["initdb"], "-D", str(data), "-U",
                                    "postgres", "--auth=trust"]), check=True, capture_output=True)  # fmt: skip
    options = f"-k {sock} -c listen_addresses='' -F"
    pg_ctl("-o", options, "-l", str(root / "log"), "-w", "start")
    try:
        yield {"url": f"postgresql+psycopg://postgres@/postgres?host={sock}",
               "restart": lambda: pg_ctl("-o", options, "-l", str(root / "log"), "-m", "fast",
                                         "-w", "restart")}  # fmt: skip
    finally:
        subprocess.run(_as_server_user([postgres_binaries["pg_ctl"], "-D", str(data), "-m",
                                        "immediate", "stop"]), capture_output=True)  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


def _holder(url: str, blobs: Path, run_id: str) -> subprocess.Popen[str]:
    code = textwrap.dedent(f"""
        import time
        from clade.archive import Archive
        with Archive({url!r}, {str(blobs)!r}) as a, a.lock_run({run_id!r}):
            print("held", flush=True)
            time.sleep(120)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_process_is_refused_and_a_killed_holders_lock_is_free(server, tmp_path):
    from clade.archive import Archive

    with Archive(server["url"], tmp_path / "blobs") as archive:
        run_id = archive.create_run("pg").id
        holder = _holder(server["url"], tmp_path / "blobs", run_id)
        try:
            with pytest.raises(RunLocked) as refused:
                archive.lock_run(run_id).acquire()
            assert f"pid {holder.pid}" in str(refused.value)
        finally:
            holder.send_signal(signal.SIGKILL)
            holder.wait()
        deadline = time.monotonic() + 10  # the server notices the closed session at once
        while True:
            try:
                with archive.lock_run(run_id):
                    break
            except RunLocked:
                assert time.monotonic() < deadline
                time.sleep(0.2)


def test_the_lock_is_taken_again_after_the_server_restarts(server, tmp_path):
    from clade.archive import Archive
    from clade.archive import lock as run_lock

    with Archive(server["url"], tmp_path / "blobs") as archive:
        run_id = archive.create_run("restart").id
        with archive.lock_run(run_id) as held:
            server["restart"]()
            time.sleep(run_lock.KEEPER_INTERVAL_S + 3)  # the keeper reconnects
            assert held.lost is None
            with pytest.raises(RunLocked):
                archive.lock_run(run_id).acquire()


def test_a_lock_taken_by_another_process_during_a_restart_is_reported_lost(server, tmp_path):
    from clade.archive import Archive
    from clade.archive import lock as run_lock

    with Archive(server["url"], tmp_path / "blobs") as archive:
        run_id = archive.create_run("lost").id
        told: list[str] = []
        with archive.lock_run(run_id, on_lost=told.append) as held:
            server["restart"]()
            holder = _holder(server["url"], tmp_path / "blobs", run_id)  # before the keeper
            try:
                time.sleep(run_lock.KEEPER_INTERVAL_S + 3)
                assert held.lost is not None and told == [held.lost]
                assert f"pid {holder.pid}" in held.lost
            finally:
                holder.kill()
                holder.wait()
