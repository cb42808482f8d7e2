"""The archive under faults: one process per run (a lock a dead holder does not keep), a
database that is locked or away for a while, a full disk, a stopping run, and selection
inputs in an order that does not depend on random ids."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time

import clade_test_backends as backends  # loaded by tests/conftest.py
import pytest

from clade.archive.errors import (
    ArchiveUnavailable,
    DiskFullError,
    InfrastructureError,
    RunLocked,
    RunStopped,
)


def test_a_second_process_is_refused_and_a_killed_holders_lock_is_free(archive, tmp_path):
    run_id = archive.create_run("locked").id
    holder = backends.lock_holder(archive.url, str(archive.blobs.root), run_id)
    try:
        with pytest.raises(RunLocked) as refused:
            archive.lock_run(run_id).acquire()
        assert f"run {run_id} is already being worked on by pid {holder.pid}" in str(refused.value)
        with archive.lock_run(archive.create_run("other").id):  # other runs are not held
            pass
    finally:
        holder.send_signal(signal.SIGKILL)  # a dead holder keeps nothing
        holder.wait()
    with archive.lock_run(run_id) as lock:
        assert lock.lost is None


def test_two_locks_in_one_process_exclude_each_other_too(archive):
    run_id = archive.create_run("twice").id
    with archive.lock_run(run_id), pytest.raises(RunLocked):
        archive.lock_run(run_id).acquire()


def test_a_stopping_run_records_nothing_more(archive, make_tree):
    run = archive.create_run("stopping")
    tree = archive.put_tree(make_tree({"a.py": "x = 1\n"}))
    archive.stop_writes("SIGTERM received")
    assert archive.stopping
    with pytest.raises(RunStopped) as stopped:
        archive.add_candidate(run.id, tree)
    assert isinstance(stopped.value, InfrastructureError)  # never a verdict on a candidate
    assert archive.record_model_call(run.id, None, "agent", "m", 1, 1, 0.0, 0.1) == 0
    assert archive.list_candidates(run.id) == []


def test_a_write_waits_while_another_process_holds_the_database(archive, monkeypatch):
    """SQLite's busy timeout, then the archive's own wait: the write lands afterwards."""
    import clade.archive.db as db

    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", 200)
    from clade.archive import Archive

    waiting = Archive(archive.url, archive.blobs.root, wait_s=30)
    database = archive.url.removeprefix("sqlite:///")
    locker = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3,sys,time; c=sqlite3.connect(sys.argv[1], "
         "isolation_level=None); c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); "
         "time.sleep(3); c.execute('ROLLBACK')", database],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
    began = time.monotonic()
    run = waiting.create_run("after the lock")
    assert time.monotonic() - began >= 1.5  # it waited for the other writer
    locker.wait()
    assert archive.get_run(run.id).name == "after the lock"
    waiting.close()


def _lock_for(archive, seconds: float) -> subprocess.Popen[str]:
    database = archive.url.removeprefix("sqlite:///")
    locker = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3,sys,time; c=sqlite3.connect(sys.argv[1], "
         "isolation_level=None); c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); "
         f"time.sleep({seconds}); c.execute('ROLLBACK')", database],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
    return locker


def test_work_the_archive_stalled_is_not_a_verdict(archive, monkeypatch):
    """Model calls are metered to the archive, so a locked database holds an agent's
    replies back past its limits: such an outcome (or failure) becomes ArchiveUnavailable,
    which the run's patience waits out and runs again; short waits stay unnoticed."""
    import clade.orchestrator.dgm.patience as patience
    from clade.archive import stalled_s

    monkeypatch.setattr(patience, "STALL_TOLERANCE_S", 1.0)
    with patience.unstalled("quick work"):  # no stall: the outcome stands
        archive.create_run("unstalled")
    locker = _lock_for(archive, 2.5)
    before = stalled_s()
    stalled = r"stalled for [23] s during an evaluation"
    with pytest.raises(ArchiveUnavailable, match=stalled), patience.unstalled("an evaluation"):
        archive.create_run("behind the lock")  # waits ~2.5 s, then lands
    assert stalled_s() - before >= 2.0
    locker.wait()
    locker = _lock_for(archive, 2.5)
    with pytest.raises(ArchiveUnavailable, match="stalled") as failed, patience.unstalled("x"):
        archive.create_run("behind the lock again")
        raise ValueError("the agent ran out of time")  # a failure is not a verdict either
    assert isinstance(failed.value.__cause__, ValueError)
    locker.wait()
    # a wait still in flight counts too: work that gave up before the write got through
    import threading

    locker = _lock_for(archive, 3.0)
    before = stalled_s()
    writer = threading.Thread(target=archive.create_run, args=("still waiting",))
    writer.start()
    time.sleep(2.0)
    assert writer.is_alive() and stalled_s() - before >= 1.0
    writer.join()
    locker.wait()


def test_a_database_that_does_not_come_back_is_one_clear_error(tmp_path, monkeypatch):
    import clade.archive.db as db
    from clade.archive import Archive

    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", 100)
    archive = Archive(f"sqlite:///{tmp_path / 'a.db'}", tmp_path / "blobs", wait_s=1.0)
    locker = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3,sys,time; c=sqlite3.connect(sys.argv[1], "
         "isolation_level=None); c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); "
         "time.sleep(30)", str(tmp_path / "a.db")],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
        with pytest.raises(ArchiveUnavailable) as failed:
            archive.create_run("never")
        assert "did not answer" in str(failed.value) and "database is locked" in str(failed.value)
    finally:
        locker.kill()
        locker.wait()
        archive.close()


def test_a_full_disk_under_the_blob_store_is_one_clear_error(archive, monkeypatch):
    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(DiskFullError) as failed:
        archive.put_log("a log that does not fit")
    assert "no space left" in str(failed.value)
    assert not any(p.name.startswith(".tmp-") for p in archive.blobs.root.rglob("*"))


def test_selection_inputs_are_ordered_by_key_not_by_id(archive, make_tree):
    """Two runs with one seed must meet equal candidates in one order: ids are random
    within a millisecond, keys are not."""
    run = archive.create_run("order").id
    tree = archive.put_tree(make_tree({"a.py": "x = 1\n"}))
    seed = archive.add_candidate(run, tree, status="admitted", meta={"key": "seed"})
    made = {}
    for key in ("g1c10", "g1c2", "g1c0", "g1c9"):  # created out of order
        made[key] = archive.add_candidate(
            run, tree, parent_id=seed.id, status="admitted", meta={"key": key}
        )
    for cand in (seed, *made.values()):
        archive.add_evaluation(cand.id, "toy", "t0", 0.5, False)
    keys = [s.key for s in archive.selection_inputs(run)]
    assert keys == ["seed", "g1c0", "g1c2", "g1c9", "g1c10"]
