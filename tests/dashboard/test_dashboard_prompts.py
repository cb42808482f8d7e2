"""Meta-prompt histories across runs, and trace steps as the conductor and judges write them."""

from __future__ import annotations

import pytest


@pytest.fixture
def archive(archive_url, tmp_path):
    from clade.archive import Archive

    with Archive(archive_url, tmp_path / "blobs") as opened:
        yield opened


def test_a_resumed_judge_is_compared_with_the_text_it_resumed(archive):
    from clade.orchestrator.dashboard.prompts import histories

    first, second = archive.create_run("j1", kind="judge"), archive.create_run("j2", kind="judge")
    archive.add_meta_prompt_version("judge", "p", "A\n", run_id=first.id)
    archive.add_meta_prompt_version("judge", "p", "A\nB\n", run_id=first.id, reason="r")
    archive.add_meta_prompt_version("judge", "p", "A\nB\nC\n", run_id=second.id, reason="s")
    found = histories(archive, "judge", "p")
    assert [(h.run_id, len(h.versions)) for h in found] == [(first.id, 2), (second.id, 1)]
    resumed = found[1].versions[0].diff
    assert ("add", "+C") in resumed and ("add", "+A") not in resumed
    assert any(line.startswith("--- v2 of run") for _, line in resumed)
    assert [line for css, line in found[0].versions[0].diff if css == "add"] == ["+A"]


def test_trace_steps_read_like_the_conversation(archive):
    from starlette.testclient import TestClient

    from clade.orchestrator.dashboard.app import create_app

    steps = [
        {"round": 0, "kind": "message", "role": "system", "content": "You conduct."},
        {"round": 1, "kind": "expert", "name": "Expert Mathematician", "instruction": "add",
         "reply": "line one\nline two"},
        {"round": 1, "kind": "python", "code": "print(2+2)", "output": "4"},
        "a bare string step",
    ]  # fmt: skip
    trace = archive.record_trace("conductor", "2+2?", steps, answer=None)
    with TestClient(create_app(archive)) as client:
        page = client.get(f"/traces/{trace}").text
    assert "round 1 · expert · Expert Mathematician" in page
    assert "reply:\nline one\nline two" in page
    assert "code: print(2+2)" in page and "output: 4" in page
    assert "a bare string step" in page and "no answer" in page
