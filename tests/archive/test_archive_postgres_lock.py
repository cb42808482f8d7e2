"""The run lock on PostgreSQL: an advisory lock held by an open session, so a killed holder
keeps nothing, and a server restart does not hand the run to another process."""

from __future__ import annotations

import signal
import time

import clade_test_backends as backends  # loaded by tests/conftest.py
import pytest

from clade.archive.errors import RunLocked

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def server(postgres_binaries):
    """A server of this module's own: its tests restart it."""
    with backends.pg_cluster(postgres_binaries, "clade-pglock-") as cluster:
        yield {"url": cluster.url.format(db="postgres"), "restart": cluster.restart}


def test_a_second_process_is_refused_and_a_killed_holders_lock_is_free(server, tmp_path):
    from clade.archive import Archive

    with Archive(server["url"], tmp_path / "blobs") as archive:
        run_id = archive.create_run("pg").id
        holder = backends.lock_holder(server["url"], tmp_path / "blobs", run_id)
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
            holder = backends.lock_holder(
                server["url"], tmp_path / "blobs", run_id
            )  # before the keeper
            try:
                time.sleep(run_lock.KEEPER_INTERVAL_S + 3)
                assert held.lost is not None and told == [held.lost]
                assert f"pid {holder.pid}" in held.lost
            finally:
                holder.kill()
                holder.wait()
