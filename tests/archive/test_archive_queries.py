"""Queries of the archive on a small hand-made family of candidates."""

from __future__ import annotations

import pytest

from clade.archive.errors import AmbiguousIdError, ArchiveError, MissingBlobError, UnknownIdError
from clade.archive.ids import new_id


def test_ids_are_unique_and_sorted_in_creation_order():
    ids = [new_id() for _ in range(2000)]
    assert ids == sorted(ids) and len(set(ids)) == 2000 and {len(i) for i in ids} == {16}


def test_listing_has_parent_generation_scores_and_status(family, archive):
    rows = {r.id: r for r in archive.list_candidates(family["run"].id)}
    seed, a, b, c = (rows[family[k].id] for k in ["seed", "a", "b", "c"])
    assert (seed.parent_id, seed.generation, seed.score, seed.scores) == (
        None,
        0,
        0.5,
        {"toy": 0.5},
    )
    assert (a.parent_id, a.generation, a.score) == (seed.id, 1, 1.0)
    assert (b.score, b.scores, b.status) == (None, {}, "pending")
    assert (c.generation, c.status) == (2, "rejected")
    assert list(rows) == sorted(rows)


def test_lineage_runs_from_the_seed_to_the_candidate(family, archive):
    assert [r.id for r in archive.lineage(family["c"].id)] == [
        family["seed"].id, family["a"].id, family["c"].id,
    ]  # fmt: skip
    with pytest.raises(UnknownIdError):
        archive.lineage("nosuchcandidate")


def test_children_counts_and_tree(family, archive):
    run = family["run"].id
    assert archive.children_counts(run) == {family["seed"].id: 2, family["a"].id: 1}
    (root,) = archive.tree(run)
    assert root.id == family["seed"].id and root.score == 0.5
    assert [child.id for child in root.children] == [family["a"].id, family["b"].id]
    assert [g.id for g in root.children[0].children] == [family["c"].id]


def test_best_so_far_curve_and_cost(family, archive):
    points = archive.best_so_far(family["run"].id)
    assert [p.score for p in points] == [0.5, 1.0, None, 0.0]
    assert [p.best for p in points] == [0.5, 1.0, 1.0, 1.0]
    assert [p.cost_usd for p in points] == [1.0, 2.0, 2.0, 3.0]  # evaluation costs: no calls
    archive.record_model_call(family["run"].id, family["a"].id, "coder", "m", 10, 5, 0.25, 0.1)
    assert [p.cost_usd for p in archive.best_so_far(family["run"].id)] == [0, 0.25, 0.25, 0.25]


def test_score_matrix_has_none_for_missing_cells_and_averages_attempts(family, archive):
    archive.add_evaluation(family["b"].id, "toy", "t2", 1.0, True)
    archive.add_evaluation(family["b"].id, "toy", "t2", 0.0, False, attempt=1)
    archive.add_evaluation(family["b"].id, "other", "t9", 1.0, True)
    matrix = archive.score_matrix(family["run"].id, "toy")
    assert matrix.tasks == ["t0", "t1", "t2"]
    order = [family[k].id for k in ("seed", "a", "b", "c")]
    assert matrix.candidates == order
    assert matrix.scores == [
        [1.0, 0.0, None], [1.0, 1.0, None], [None, None, 0.5], [0.0, 0.0, None],
    ]  # fmt: skip


def test_clade_statistics_pool_the_whole_subtree(family, archive):
    whole = archive.clade_stats(family["seed"].id)
    assert (whole.size, whole.evaluations, whole.successes, whole.failures) == (4, 6, 3, 3)
    sub = archive.clade_stats(family["a"].id)
    assert (sub.size, sub.successes, sub.failures, sub.mean_score) == (2, 2, 2, 0.5)
    leaf = archive.clade_stats(family["b"].id)
    assert (leaf.size, leaf.evaluations, leaf.mean_score) == (1, 0, None)


def test_clade_statistics_of_one_split_leave_the_other_out(family, archive):
    # the family's rows are on the test split; a run selecting on dev must not see them
    assert archive.clade_stats(family["seed"].id, "toy", "dev").evaluations == 0
    archive.add_evaluation(family["a"].id, "toy", "t5", 1.0, True, split="dev")
    dev = archive.clade_stats(family["seed"].id, "toy", "dev")
    assert (dev.evaluations, dev.successes, dev.failures) == (1, 1, 0)
    test = archive.clade_stats(family["seed"].id, "toy", "test")
    assert (test.evaluations, test.successes, test.failures) == (6, 3, 3)


def test_selection_inputs_are_admitted_evaluated_candidates(family, archive):
    inputs = {s.candidate_id: s for s in archive.selection_inputs(family["run"].id)}
    assert set(inputs) == {family["seed"].id, family["a"].id}
    assert (inputs[family["seed"].id].score, inputs[family["seed"].id].children) == (0.5, 2)
    assert (inputs[family["a"].id].score, inputs[family["a"].id].children) == (1.0, 1)


def test_resolve_id_accepts_unique_prefixes_only(family, archive):
    a = family["a"].id
    assert archive.resolve_id(a[:14].upper()) == a
    with pytest.raises(AmbiguousIdError, match="matches"):
        archive.resolve_id(a[:4])
    with pytest.raises(UnknownIdError):
        archive.resolve_id("zzzz")
    with pytest.raises(UnknownIdError):
        archive.resolve_id("not-an-id!")
    assert archive.resolve_id(family["run"].id[:15], "run") == family["run"].id


def test_show_has_proposal_results_and_costs(family, archive):
    archive.record_model_call(
        family["run"].id, family["seed"].id, "diagnose", "gpt", 100, 20, 0.02, 1.5, "timeout",
        cached=True,
    )  # fmt: skip
    detail = archive.show(family["seed"].id)
    assert detail.proposal == {"idea": "seed"} and detail.children == 2
    assert (detail.model_calls, detail.model_tokens, detail.model_cost_usd) == (1, 120, 0.02)
    assert detail.evaluation_cost_usd == 1.0
    assert detail.results[0].n_passed == 1
    assert archive.show(family["c"].id).rejection_reason == "solved nothing"


def test_diff_between_candidates(family, archive):
    text = archive.diff(family["seed"].id, family["a"].id)
    assert "-print('seed')" in text and "+print('child')" in text and "new.txt" in text
    assert archive.diff(family["seed"].id, family["b"].id) == ""


def test_json_columns_save_in_place_edits(family, archive):
    from sqlmodel import Session

    with Session(archive.engine) as session, session.begin():
        cand = session.get(type(family["seed"]), family["seed"].id)
        cand.meta["note"] = "edited in place"
    assert archive.get_candidate(family["seed"].id).meta == {"note": "edited in place"}


def test_meta_prompt_versions_count_up(archive, family):
    first = archive.add_meta_prompt_version("judge", "pairwise", "v1", run_id=family["run"].id)
    second = archive.add_meta_prompt_version(
        "judge", "pairwise", "v2", run_id=family["run"].id, reason="contradicted itself"
    )
    other = archive.add_meta_prompt_version("conductor", "default", "c1")
    assert (first.version, second.version, other.version) == (1, 2, 1)
    assert second.parent_id == first.id
    assert [v.text for v in archive.meta_prompt_versions("judge", "pairwise")] == ["v1", "v2"]


def test_bad_writes_are_refused(archive, family, make_tree):
    with pytest.raises(MissingBlobError):
        archive.add_candidate(family["run"].id, "0" * 64)
    tree = archive.put_tree(make_tree({"x": "y"}))
    with pytest.raises(UnknownIdError):
        archive.add_candidate("nosuchrun", tree)
    other = archive.create_run("other")
    with pytest.raises(UnknownIdError):
        archive.add_candidate(other.id, tree, parent_id=family["a"].id)
    with pytest.raises(ValueError):
        archive.add_candidate(other.id, tree, status="bogus")
    with pytest.raises(ArchiveError, match="nothing was recorded"):
        archive.record_model_call(other.id, "nosuchcandidate", "r", "m", 1, 1, 0.0, 0.0)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])  # fmt: skip
def test_what_a_watcher_reads_evaluations_usage_and_activity(family, archive):
    from clade.archive.views import CallUsage, Usage

    run, seed, a = family["run"].id, family["seed"].id, family["a"].id
    activity = archive.run_activity(run)
    assert (activity.status, activity.candidates, activity.last_candidate) == (
        "running",
        4,
        family["c"].id,
    )
    assert activity.statuses == {"admitted": 2, "pending": 1, "rejected": 1}
    assert (activity.evaluations, activity.model_calls, activity.traces) == (6, 0, 0)
    with pytest.raises(UnknownIdError, match="no run with id 'nope'"):
        archive.run_activity("nope")

    archive.add_evaluation(seed, "toy", "t0", 0.0, False, attempt=1, log="second try")
    archive.add_evaluation(seed, "other", "t9", 1.0, True, split="dev")
    rows = archive.evaluations(seed)
    assert [(r.evaluator, r.split, r.task_id, r.attempt) for r in rows] == [
        ("other", "dev", "t9", 0), ("toy", "test", "t0", 0), ("toy", "test", "t0", 1),
        ("toy", "test", "t1", 0),
    ]  # fmt: skip
    assert archive.get_log(rows[2].log_hash) == "second try" and rows[1].cost_usd == 0.5
    assert [r.task_id for r in archive.evaluations(seed, evaluator="toy", attempt=0)] == [
        "t0",
        "t1",
    ]
    assert archive.task_results(seed, "toy", "test")["t0"].score == 1.0  # attempt 0 only
    assert archive.run_activity(run).evaluations == 8

    for cand, role, error in ((seed, "diagnose", None), (seed, "diagnose", "timeout"),
                              (a, "coder", None), (None, "judge", None)):  # fmt: skip
        archive.record_model_call(run, cand, role, "m", 100, 20, 0.25, 0.1, error)
    assert archive.call_usage(run_id=run) == [
        CallUsage("coder", "m", 1, 100, 20, 0.25, 0), CallUsage("diagnose", "m", 2, 200, 40, 0.5, 1),
        CallUsage("judge", "m", 1, 100, 20, 0.25, 0),
    ]  # fmt: skip
    assert archive.call_usage(candidate_id=seed) == [CallUsage("diagnose", "m", 2, 200, 40, 0.5, 1)]
    assert archive.call_usage(candidate_id=family["b"].id) == []
    assert archive.usage_by_candidate(run) == {
        seed: Usage(240, 0.5), a: Usage(120, 0.25), None: Usage(120, 0.25),
    }  # fmt: skip
    archive.record_trace("conductor", "q", [], run_id=run)
    after = archive.run_activity(run)
    assert (after.model_calls, after.traces) == (4, 1)
