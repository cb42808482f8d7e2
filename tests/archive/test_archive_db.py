"""The database: WAL, several writer processes, migrations, transactions."""

from __future__ import annotations

import multiprocessing
import sqlite3
import subprocess
import sys

import pytest

from clade.archive import Archive
from clade.archive.errors import ArchiveError, NewerSchemaError


def test_sqlite_archive_runs_in_wal_mode(archive, tmp_path):
    with archive._read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_migrations_from_empty_build_exactly_the_models_schema(archive):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from clade.archive.tables import archive_metadata

    with archive.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), archive_metadata())
    assert diffs == []


def test_the_fast_path_head_is_the_migrations_head():
    from clade.archive.db import SCHEMA_HEAD, head_revision

    assert head_revision() == SCHEMA_HEAD


def test_reopening_at_head_changes_nothing(tmp_path):
    from clade.archive.db import current_revision, head_revision

    url = f"sqlite:///{tmp_path / 'clade.db'}"
    with Archive(url, tmp_path / "blobs") as first:
        run = first.create_run("kept")
    with Archive(url, tmp_path / "blobs") as second:
        assert current_revision(second.engine) == head_revision()
        assert [r.id for r in second.list_runs()] == [run.id]


def _stamp_future(path):
    with sqlite3.connect(path) as db:
        db.execute("UPDATE alembic_version SET version_num = 'f00dfeed9999'")


def test_a_database_from_a_newer_clade_is_refused(tmp_path):
    path = tmp_path / "clade.db"
    Archive(f"sqlite:///{path}", tmp_path / "blobs").close()
    _stamp_future(path)
    with pytest.raises(NewerSchemaError, match="newer Clade"):
        Archive(f"sqlite:///{path}", tmp_path / "blobs")


def test_the_cli_refuses_a_newer_database_in_one_line(tmp_path):
    path = tmp_path / "clade.db"
    Archive(f"sqlite:///{path}", tmp_path / "blobs").close()
    _stamp_future(path)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "clade.orchestrator",
            "archive",
            "--db",
            f"sqlite:///{path}",
            "runs",
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode != 0
    assert out.stderr.count("\n") == 1 and "newer Clade" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr


def test_a_failed_batch_writes_nothing(family, archive):
    before = archive.show(family["a"].id).results[0].n
    rows = [
        {"candidate_id": family["a"].id, "evaluator": "toy", "task_id": "new", "score": 1.0,
         "passed": True},
        {"candidate_id": "nosuchcandidate", "evaluator": "toy", "task_id": "t", "score": 1.0,
         "passed": True},
    ]  # fmt: skip
    with pytest.raises(ArchiveError, match="nothing was recorded"):
        archive.add_evaluations(rows)
    assert archive.show(family["a"].id).results[0].n == before
    assert archive.score_matrix(family["run"].id).tasks == ["t0", "t1"]


def test_recording_the_same_attempt_twice_counts_once(family, archive):
    row = {"candidate_id": family["b"].id, "evaluator": "toy", "task_id": "t0", "score": 1.0,
           "passed": True}  # fmt: skip
    assert archive.add_evaluations([row]) == 1
    assert archive.add_evaluations([row]) == 0
    assert archive.show(family["b"].id).results[0].n == 1


def _writer(url: str, blobs: str, run_id: str, tree_hash: str, worker: int, count: int) -> None:
    with Archive(url, blobs) as archive:
        for i in range(count):
            cand = archive.add_candidate(run_id, tree_hash, status="admitted")
            archive.add_evaluation(cand.id, "toy", f"w{worker}-{i}", 1.0, True)
            archive.record_model_call(run_id, cand.id, "coder", "m", 1, 1, 0.001, 0.01)


def test_several_writer_processes_all_succeed(tmp_path, make_tree):
    url = f"sqlite:///{tmp_path / 'clade.db'}"
    with Archive(url, tmp_path / "blobs") as archive:
        run = archive.create_run("concurrent")
        tree_hash = archive.put_tree(make_tree({"a.py": "pass\n"}))
    ctx = multiprocessing.get_context("spawn")
    workers = [
        ctx.Process(target=_writer, args=(url, str(tmp_path / "blobs"), run.id, tree_hash, w, 15))
        for w in range(4)
    ]
    for p in workers:
        p.start()
    for p in workers:
        p.join(timeout=120)
    assert [p.exitcode for p in workers] == [0, 0, 0, 0]
    with Archive(url, tmp_path / "blobs") as archive:
        rows = archive.list_candidates(run.id)
        assert len(rows) == 60 and all(r.score == 1.0 for r in rows)
        assert len({r.id for r in rows}) == 60
        assert archive.list_runs()[0].cost_usd == pytest.approx(0.06)


def _opener(url: str, blobs: str) -> None:
    with Archive(url, blobs) as archive:
        archive.create_run("racer")


def test_several_processes_can_create_the_same_new_archive_at_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh' / 'clade.db'}"
    ctx = multiprocessing.get_context("spawn")
    openers = [ctx.Process(target=_opener, args=(url, str(tmp_path / "blobs"))) for _ in range(3)]
    for p in openers:
        p.start()
    for p in openers:
        p.join(timeout=120)
    assert [p.exitcode for p in openers] == [0, 0, 0]
    with Archive(url, tmp_path / "blobs") as archive:
        assert len(archive.list_runs()) == 3
