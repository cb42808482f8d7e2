"""The facade is composed of stores over one database; its flat methods are delegations
that keep the stores' signatures and docstrings, so no caller of the archive sees a change."""

from __future__ import annotations

import inspect

import pytest

from clade.archive.errors import RunStopped

#: The facade's public names before it was split into stores: every one still works.
BEFORE_STORES = (
    "add_candidate", "add_evaluation", "add_evaluations", "add_meta_prompt_version",
    "attempt_rows", "best_so_far", "candidate_row", "children_counts", "clade_stats", "close",
    "create_run", "diff", "evaluators", "export_candidate", "export_run", "export_tree",
    "find_candidate", "finish_run", "get_candidate", "get_log", "get_run", "get_trace",
    "import_run", "latest_meta_prompt", "latest_run_id", "lineage", "list_candidates",
    "list_runs", "lock_run", "meta_prompt_versions", "put_log", "put_tree", "rebuild_scores",
    "record_model_call", "record_trace", "resolve_id", "run_usage", "score_matrix",
    "selection_inputs", "set_run_config", "set_status", "show", "stop_writes", "stopping",
    "task_results", "traces", "tree",
)  # fmt: skip


def test_the_facade_keeps_every_public_method():
    from clade.archive.facade import Archive

    assert sorted(set(BEFORE_STORES) - set(dir(Archive))) == []


def test_each_delegation_is_its_store_method(archive):
    from clade.archive.facade import Archive

    stores = [getattr(archive.stores, f) for f in archive.stores.__dataclass_fields__]
    delegated = {n: m.__wrapped__ for n, m in vars(Archive).items() if hasattr(m, "__wrapped__")}
    assert {"record_model_call", "traces", "add_evaluations", "task_results"} <= set(delegated)
    for name, method in delegated.items():
        owners = [s for s in stores if getattr(type(s), method.__name__, None) is method]
        assert len(owners) == 1, name
        assert inspect.signature(getattr(archive, name)) == inspect.signature(
            getattr(owners[0], method.__name__)
        ), name
        assert getattr(Archive, name).__doc__ == method.__doc__, name


def test_every_store_shares_the_one_database_so_a_stop_reaches_them_all(archive, family):
    stores = [getattr(archive.stores, f) for f in archive.stores.__dataclass_fields__]
    assert {id(s.db) for s in stores if hasattr(s, "db")} == {id(archive.db)}
    archive.stop_writes("test")
    assert archive.stopping and archive.db.stopping
    assert archive.record_model_call(family["run"].id, None, "r", "m", 1, 1, 0.0, 0.0) == 0
    with pytest.raises(RunStopped):
        archive.add_evaluation(family["b"].id, "toy", "t0", 1.0, True)
    with pytest.raises(RunStopped):
        archive.record_trace("conductor", "q", [])
    with pytest.raises(RunStopped):
        archive.add_meta_prompt_version("judge", "j", "text")
