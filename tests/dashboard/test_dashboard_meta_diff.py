"""A candidate's page shows changes to its improvement procedure (meta/) and to its task
part in two sections (SQLite and PostgreSQL, as every dashboard module)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def family(backend, tmp_path_factory, request):
    import clade_test_backends as backends

    from clade.archive import Archive

    root = tmp_path_factory.mktemp("meta")
    archive = Archive(backends.archive_url(backend, root, request), root / "blobs")
    run = archive.create_run("meta", config={})

    def tree(name: str, files: dict[str, str]) -> str:
        for path, text in files.items():
            (root / name / path).parent.mkdir(parents=True, exist_ok=True)
            (root / name / path).write_text(text)
        return archive.put_tree(root / name)

    seed = archive.add_candidate(
        run.id,
        tree("s", {"agent.py": "print('seed')\n", "meta/diagnose.j2": "Old {{ task }}\n"}),
        status="admitted",
    )
    child = archive.add_candidate(
        run.id, tree("c", {"agent.py": "print('child')\n", "meta/diagnose.j2": "New <b>{{ task }}</b>\n"}),
        parent_id=seed.id, status="admitted",
        meta={"key": "g1c0", "procedure": {"hash": "ab" * 32, "fallbacks": {"meta/choose_failure.json": "missing"}}},
    )  # fmt: skip
    plain = archive.add_candidate(
        run.id, tree("p", {"agent.py": "print('plain')\n"}), status="admitted"
    )
    plain_child = archive.add_candidate(
        run.id, tree("q", {"agent.py": "print('q')\n"}), parent_id=plain.id
    )
    yield archive, seed.id, child.id, plain_child.id
    archive.close()


@pytest.fixture(scope="module")
def client(family):
    from starlette.testclient import TestClient

    from clade.orchestrator.dashboard.app import create_app

    with TestClient(create_app(family[0])) as test_client:
        yield test_client


def test_the_procedure_and_the_task_part_are_two_sections(client, family):
    _archive, seed, child, _plain = family
    page = client.get(f"/candidates/{child}").text
    meta_at = page.index('data-part="meta"')
    task_at = page.index('data-part="task"')
    assert meta_at < page.index("+New &lt;b&gt;") < task_at < page.index("+print(&#39;child&#39;)")
    assert "the improvement procedure (meta/)" in page
    facts = page[page.index("<th>procedure</th>") :]
    assert facts.index("abababababababab") < facts.index(
        "meta/choose_failure.json: the default (missing)"
    )
    against = client.get(f"/candidates/{child}?against={seed}").text
    section = against[against.index('id="against-diff"') :]
    assert 'data-part="meta"' in section and 'data-part="task"' in section


def test_a_tree_without_a_procedure_shows_one_diff(client, family):
    page = client.get(f"/candidates/{family[3]}").text
    assert "data-part=" not in page and "+print(&#39;q&#39;)" in page
