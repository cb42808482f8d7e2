"""Traces (conductor conversations, judge decisions) and the cases behind meta-prompt versions."""

from __future__ import annotations

import pytest

from clade.archive.errors import UnknownIdError


def test_a_trace_is_recorded_whole_and_found_by_run_and_kind(archive, family):
    run = family["run"].id
    steps = [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]
    first = archive.record_trace("conductor", "q1", steps, answer="4", run_id=run, calls=2)
    archive.record_trace("judge", "pair-1", [], answer=None, run_id=run, meta={"order": "ab"})
    archive.record_trace("conductor", "q2", [], answer="x")  # no run

    got = archive.get_trace(first)
    assert (got.kind, got.item, got.answer, got.steps, got.calls) == (
        "conductor",
        "q1",
        "4",
        steps,
        2,
    )
    assert [t.item for t in archive.traces(run)] == ["q1", "pair-1"]
    assert [t.item for t in archive.traces(kind="conductor")] == ["q1", "q2"]
    assert archive.traces(run, "judge")[0].meta == {"order": "ab"}
    with pytest.raises(UnknownIdError):
        archive.get_trace("nope")


def test_the_latest_meta_prompt_carries_the_cases_that_made_it(archive):
    assert archive.latest_meta_prompt("judge", "m") is None
    archive.add_meta_prompt_version("judge", "m", "seed")
    cases = [{"tip": "check edge cases", "score": 2}]
    archive.add_meta_prompt_version("judge", "m", "seed + tip", reason="batch 1", cases=cases)
    latest = archive.latest_meta_prompt("judge", "m")
    assert latest is not None
    assert (latest.version, latest.text, latest.cases) == (2, "seed + tip", cases)
    assert archive.meta_prompt_versions("judge", "m")[0].cases is None
