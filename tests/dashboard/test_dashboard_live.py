"""Live updates: the state the run page polls changes with every new record, and the
fragment it then fetches shows the new candidate; polling ends with the run."""

from __future__ import annotations

import re

import pytest


@pytest.fixture
def live(archive_url, tmp_path):
    from starlette.testclient import TestClient

    from clade.archive import Archive
    from clade.orchestrator.dashboard.app import create_app

    archive = Archive(archive_url, tmp_path / "blobs")
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "agent.py").write_text("print(1)\n")
    tree = archive.put_tree(tmp_path / "tree")
    run = archive.create_run("live")
    seed = archive.add_candidate(run.id, tree, status="admitted")
    with archive, TestClient(create_app(archive, poll_interval_s=0.5)) as client:
        yield archive, client, run.id, seed, tree


def _nodes(html: str) -> list[str]:
    return re.findall(r'<circle class="node node-\w+" data-id="(\w+)"', html)


def test_a_candidate_added_after_page_load_shows_in_the_next_refresh(live):
    archive, client, run_id, seed, tree = live
    page = client.get(f"/runs/{run_id}").text
    assert 'data-poll-ms="500"' in page and _nodes(page) == [seed.id]
    before = client.get(f"/api/runs/{run_id}/state").json()
    assert client.get(f"/api/runs/{run_id}/state").json() == before  # stable while idle

    child = archive.add_candidate(run_id, tree, parent_id=seed.id, status="evaluating")
    after = client.get(f"/api/runs/{run_id}/state").json()
    assert after["version"] != before["version"] and after["candidates"] == 2
    assert _nodes(client.get(f"/runs/{run_id}/live").text) == [seed.id, child.id]

    archive.add_evaluation(child.id, "toy", "t0", 1.0, True)
    scored = client.get(f"/api/runs/{run_id}/state").json()
    assert scored["version"] != after["version"] and scored["evaluations"] == 1

    archive.set_status(child.id, "admitted")
    admitted = client.get(f"/api/runs/{run_id}/state").json()
    assert admitted["version"] != scored["version"]


def test_the_state_says_when_the_run_ends(live):
    archive, client, run_id, *_ = live
    assert client.get(f"/api/runs/{run_id}/state").json()["status"] == "running"
    archive.finish_run(run_id)
    assert client.get(f"/api/runs/{run_id}/state").json()["status"] == "finished"
    assert 'data-status="finished"' in client.get(f"/runs/{run_id}").text
