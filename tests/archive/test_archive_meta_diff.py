"""`clade archive diff` shows the improvement procedure (meta/) apart from the task part,
on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from clade.archive.errors import ConfigError
from clade.orchestrator.cli import app


@pytest.fixture
def backend(each_backend):
    return each_backend


@pytest.fixture
def pair(archive, make_tree):
    run = archive.create_run("meta")
    old = {"coder/loop.py": "print('old')\n", "meta/diagnose.j2": "Diagnose {{ task }}\n"}
    new = {"coder/loop.py": "print('new')\n", "meta/diagnose.j2": "Look harder at {{ task }}\n"}
    plain = {"coder/loop.py": "print('plain')\n"}
    ids = {}
    for name, files in (
        ("old", old),
        ("new", new),
        ("plain", plain),
        ("plain2", {"coder/loop.py": "x\n"}),
    ):
        ids[name] = archive.add_candidate(run.id, archive.put_tree(make_tree(files))).id
    return ids


def _diff(archive, *args: str) -> str:
    where = ["--db", archive.url, "--blobs", str(Path(archive.blobs.root))]
    result = CliRunner().invoke(app, ["archive", *where, "diff", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_procedure_and_the_task_part_are_shown_apart(archive, pair):
    both = _diff(archive, pair["old"], pair["new"])
    meta_at, task_at = (
        both.index("# == the improvement procedure (meta/) =="),
        both.index("# == the task agent"),
    )
    assert meta_at < both.index("+Look harder") < task_at < both.index("+print('new')")
    only_meta = _diff(archive, pair["old"], pair["new"], "--part", "meta")
    assert "+Look harder" in only_meta and "loop.py" not in only_meta and "# ==" not in only_meta
    only_task = _diff(archive, pair["old"], pair["new"], "--part", "task")
    assert "+print('new')" in only_task and "meta/" not in only_task
    unchanged = _diff(archive, pair["old"], pair["plain"], "--part", "all")
    assert "-Diagnose {{ task }}" in unchanged  # the procedure removed: it shows in its section
    assert archive.diff(pair["old"], pair["new"], "task") + archive.diff(
        pair["old"], pair["new"], "meta"
    ) == archive.diff(pair["old"], pair["new"])  # the two parts make the whole (path order)


def test_trees_without_a_procedure_diff_as_before_and_a_bad_part_is_one_line(archive, pair):
    plain = _diff(archive, pair["plain"], pair["plain2"])
    assert plain == archive.diff(pair["plain"], pair["plain2"]) and "# ==" not in plain
    where = ["--db", archive.url, "--blobs", str(Path(archive.blobs.root))]
    bad = CliRunner().invoke(
        app, ["archive", *where, "diff", pair["old"], pair["new"], "--part", "x"]
    )
    # A ConfigError: the command line prints it as one line (test_archive_cli.py).
    assert bad.exit_code != 0 and isinstance(bad.exception, ConfigError)
    assert str(bad.exception).startswith("unknown part 'x'")


def test_show_names_the_procedure_that_made_a_candidate(archive, make_tree):
    run = archive.create_run("made")
    tree = archive.put_tree(make_tree({"agent.py": "x\n"}))
    record = {
        "hash": "c0ffee" * 10 + "abcd",
        "fallbacks": {"meta/choose_failure.json": "invalid: [show]"},
    }
    made = archive.add_candidate(run.id, tree, meta={"key": "g1c0", "procedure": record})
    where = ["--db", archive.url, "--blobs", str(Path(archive.blobs.root))]
    env = {"COLUMNS": "250", "NO_COLOR": "1"}
    shown = CliRunner().invoke(app, ["archive", *where, "show", made.id], env=env).output
    assert "procedure c0ffeec0ffeec0ff (the parent's meta/)" in shown
    assert "meta/choose_failure.json: default, invalid: [show]" in shown
    as_json = CliRunner().invoke(app, ["archive", *where, "show", made.id, "--json"]).output
    assert '"procedure"' in as_json
