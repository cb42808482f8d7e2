"""Every route of the dashboard over a seeded archive, through Starlette's TestClient."""

from __future__ import annotations

import re

import pytest

ESCAPED = "&lt;script&gt;window.__pwned=1&lt;/script&gt;"


def _pages(s):
    return [
        "/",
        f"/runs/{s.run_id}",
        f"/runs/{s.run_id[:12]}",
        f"/runs/{s.run_id}/live",
        f"/runs/{s.conductor_run}",
        *(f"/candidates/{c}" for c in (s.seed, s.better, s.rejected, s.failed, s.grandchild)),
        f"/candidates/{s.grandchild}?against={s.seed}",
        f"/traces/{s.trace_id}",
        "/judges",
        "/judges/pairwise",
        "/prompts/conductor",
    ]


def test_every_page_loads_and_never_echoes_agent_html(client, seeded):
    for url in _pages(seeded):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["content-type"].startswith("text/html"), url
        assert "<script>window" not in response.text, url
        assert "<img src=x" not in response.text, url
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp


def test_agent_text_is_shown_escaped_where_it_was_written(client, seeded):
    page = client.get(f"/candidates/{seeded.grandchild}").text
    # the proposal, the self-modification log and the task logs each carry it
    assert page.count(ESCAPED) >= 4
    assert "step 2: wrote" in page
    failed = client.get(f"/candidates/{seeded.failed}").text
    assert "diagnosis reply 1" in failed and "I refuse." in failed and ESCAPED in failed
    assert ESCAPED in client.get(f"/traces/{seeded.trace_id}").text
    assert ESCAPED in client.get("/judges/pairwise").text


def test_run_page_draws_one_node_per_candidate_and_the_charts(client, seeded):
    page = client.get(f"/runs/{seeded.run_id}").text
    nodes = re.findall(r'<circle class="node node-(\w+)" data-id="(\w+)"', page)
    assert len(nodes) == seeded.candidates
    assert {s for s, _ in nodes} == {"admitted", "rejected", "failed"}
    assert page.count('<figure class="chart">') == 4
    assert "nothing recorded yet" not in page
    assert "diagnose" in page and "scripted/toy" in page  # usage by role
    assert 'data-status="running"' in page


def test_candidate_page_shows_diffs_results_and_proposal(client, seeded):
    page = client.get(f"/candidates/{seeded.better}").text
    assert "-print(&#39;seed&#39;)" in page and "+print(&#39;better&#39;)" in page
    assert "+++ " + seeded.better + "/notes.md" in page
    assert "edit agent.py" in page  # the proposal's plan
    assert page.count('class="pass"') == 2
    chosen = client.get(f"/candidates/{seeded.grandchild}?against={seeded.seed[:12]}").text
    assert 'id="against-diff"' in chosen and "+print(&#39;best&#39;)" in chosen
    assert "a seed has no parent" in client.get(f"/candidates/{seeded.seed}").text
    rejected = client.get(f"/candidates/{seeded.rejected}").text
    assert "does not beat its parent" in rejected


def test_judge_page_shows_each_version_what_changed_and_why(client, seeded):
    page = client.get("/judges/pairwise").text
    assert page.count('<article class="version"') == 3
    assert "+Prefer correct code." in page and "-Be fair." in page and "+Ignore length." in page
    assert "missed a bug" in page and "too verbose" in page
    assert "note 2" in page and "note 3" in page
    listing = client.get("/judges").text
    assert "/prompts/judge/pairwise" in listing


def test_logs_are_served_as_plain_text(client, seeded):
    response = client.get(f"/logs/{seeded.log_hash}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert seeded.xss in response.text


def test_json_api(client, seeded):
    runs = client.get("/api/runs").json()
    assert {r["id"] for r in runs} == {seeded.run_id, seeded.conductor_run}
    state = client.get(f"/api/runs/{seeded.run_id}/state").json()
    assert state["status"] == "running" and state["candidates"] == seeded.candidates
    assert state["evaluations"] == 8 and state["model_calls"] == 4
    tree = client.get(f"/api/runs/{seeded.run_id}/tree").json()
    assert len(tree) == 1 and len(tree[0]["children"]) == 3
    detail = client.get(f"/api/candidates/{seeded.better}").json()
    assert detail["candidate"]["score"] == 1.0 and detail["children"] == 1


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("/runs/zzzzzzzz", "no run with id"),
        ("/candidates/zzzzzzzz", "no candidate with id"),
        ("/traces/zzzzzzzz", "no trace"),
        ("/judges/nobody", "no judge meta-prompt named"),
        ("/logs/" + "0" * 64, "no log 000000000000 in this archive"),
        ("/logs/not-a-hash", "a log hash is 64 hex digits"),
        ("/no/such/page", "no page at /no/such/page"),
    ],
)
def test_unknown_ids_are_404_with_a_helpful_message(client, url, message):
    response = client.get(url)
    assert response.status_code == 404
    assert message in response.text
    assert '<p class="hint">' in response.text  # what to do next


def test_api_404_is_json_with_a_hint(client):
    response = client.get("/api/runs/zzzzzzzz/state")
    assert response.status_code == 404
    assert response.json() == {
        "error": "no run with id 'zzzzzzzz'",
        "hint": "list them with `clade archive runs`",
    }


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("url", ["/", "/api/runs", "/runs/x", "/static/dashboard.js"])
def test_writes_are_refused_when_read_only(client, method, url):
    response = client.request(method, url)
    assert response.status_code == 405
    assert "read-only" in response.text
    assert response.headers["allow"] == "GET, HEAD, OPTIONS"


def test_read_only_is_what_refuses_them(seeded):
    from starlette.testclient import TestClient

    from clade.orchestrator.dashboard.app import create_app

    with TestClient(create_app(seeded.archive, read_only=False)) as writable:
        response = writable.post("/")
    assert response.status_code == 405  # no route takes a POST, but the guard did not answer
    assert "read-only" not in response.text


def test_other_host_names_are_refused_when_hosts_are_pinned(seeded):
    from starlette.testclient import TestClient

    from clade.orchestrator.dashboard.app import create_app

    app = create_app(seeded.archive, allowed_hosts=["127.0.0.1", "localhost"])
    with TestClient(app, base_url="http://attacker.example") as foreign:
        assert foreign.get("/").status_code == 400
    with TestClient(app, base_url="http://127.0.0.1:8765") as local:
        assert local.get("/").status_code == 200


def test_static_files_ship(client):
    assert "function tick" in client.get("/static/dashboard.js").text
    assert "svg.tree" in client.get("/static/dashboard.css").text
