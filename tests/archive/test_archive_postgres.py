"""The archive on a real PostgreSQL server, started from the local binaries (backends.py).

PostgreSQL refuses to run as root, so as root the server runs as `nobody` (through
`runuser`). Marked ``postgres``: without the binaries it skips locally and fails in CI.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.postgres


@pytest.fixture
def backend() -> str:
    """Every archive of this module is a fresh database on the session's PostgreSQL server."""
    return "postgresql"


def test_postgres_schema_matches_the_models(archive):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from clade.archive.tables import archive_metadata

    assert archive.engine.dialect.name == "postgresql"
    with archive.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), archive_metadata()) == []


def test_postgres_queries_match_the_sqlite_ones(family, archive):
    run = family["run"].id
    ids = [family[k].id for k in ("seed", "a", "b", "c")]
    assert [r.id for r in archive.list_candidates(run)] == ids
    assert [r.score for r in archive.list_candidates(run)] == [0.5, 1.0, None, 0.0]
    assert [r.id for r in archive.lineage(family["c"].id)] == [ids[0], ids[1], ids[3]]
    assert archive.children_counts(run) == {ids[0]: 2, ids[1]: 1}
    assert archive.score_matrix(run).scores[0] == [1.0, 0.0]
    stats = archive.clade_stats(family["seed"].id)
    assert (stats.size, stats.successes, stats.failures) == (4, 3, 3)
    assert {s.candidate_id for s in archive.selection_inputs(run)} == {ids[0], ids[1]}
    assert [p.best for p in archive.best_so_far(run)] == [0.5, 1.0, 1.0, 1.0]
    assert archive.list_runs()[0].best_score == 1.0
    assert archive.resolve_id(ids[1][:15]) == ids[1]


def test_postgres_writes_dedupe_and_stay_atomic(family, archive, tmp_path):
    from clade.archive.errors import ArchiveError

    row = {"candidate_id": family["b"].id, "evaluator": "toy", "task_id": "t0", "score": 1.0,
           "passed": True}  # fmt: skip
    assert archive.add_evaluations([row]) == 1
    assert archive.add_evaluations([row]) == 0
    with pytest.raises(ArchiveError, match="nothing was recorded"):
        archive.add_evaluations([{**row, "task_id": "t1"}, {**row, "candidate_id": "nope"}])
    assert archive.show(family["b"].id).results[0].n == 1
    archive.record_model_call(family["run"].id, family["b"].id, "coder", "m", 1, 2, 0.5, 0.1)
    assert archive.add_meta_prompt_version("judge", "j", "v2").version == 1
    dump = tmp_path / "run.jsonl"
    archive.export_run(family["run"].id, dump)
    from clade.archive import Archive

    with Archive(f"sqlite:///{tmp_path / 'copy.db'}", tmp_path / "copy-blobs") as copy:
        copy.import_run(dump)
        assert copy.list_candidates(family["run"].id) == archive.list_candidates(family["run"].id)


def test_a_run_checkpoints_on_postgres_and_resumes_after_a_crash(archive, tmp_path):
    """The run graph beside a PostgreSQL archive uses LangGraph's PostgreSQL checkpointer."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "dgm" / "test_dgm_graph.py"
    spec = importlib.util.spec_from_file_location("dgm_graph_cases", path)
    cases = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cases)

    from clade.orchestrator.dgm.config import RunConfig
    from clade.orchestrator.dgm.graph import DGMRun, build_graph
    from clade.orchestrator.dgm.launch import checkpointer
    from clade.orchestrator.evaluators.generated import WordSorting

    config = RunConfig.model_validate(
        {
            "evaluation": {
                "evaluator": "word-sorting",
                "options": {"n": 40},
                "stages": [{"tasks": 2}, {"tasks": 4}],
            },
            "selection": {"policy": "best", "children_per_generation": 2},
            "budget": {"generations": 2},
        }
    )
    (tmp_path / "trees").mkdir()
    steps = cases.SeedSolvesOne(archive, tmp_path / "trees")
    run_id = archive.create_run(config=config.model_dump(mode="json")).id
    dgm = DGMRun(archive, config, WordSorting(n=40), steps)
    graph_config = {"configurable": {"thread_id": run_id}}
    steps.crash_on = ("evaluate", 3)
    with checkpointer(archive.url, tmp_path) as saver:
        from langgraph.checkpoint.postgres import PostgresSaver

        assert isinstance(saver, PostgresSaver)
        with pytest.raises(cases.Crash):
            build_graph(dgm, saver).invoke({"run_id": run_id}, graph_config, durability="sync")
    steps.crash_on = None
    with checkpointer(archive.url, tmp_path) as saver:
        build_graph(dgm, saver).invoke(None, graph_config, durability="sync")
    rows = archive.list_candidates(run_id)
    assert [r.generation for r in rows] == [0, 1, 1, 2, 2]
    assert all(len(archive.task_results(r.id, "word-sorting", "dev")) == 4 for r in rows)
    assert archive.get_run(run_id).status == "finished"
