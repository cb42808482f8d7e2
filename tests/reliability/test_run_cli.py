"""`clade run` as a user meets it: an empty resume id, a run another process holds, approval
kept with the run. The run itself is replaced by a recorder: these are about the CLI."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from clade.orchestrator.cli import app


@pytest.fixture
def recorded(clade_home, monkeypatch):
    """`execute` replaced by a recorder of what the CLI asked for."""
    import clade.orchestrator.dgm.launch as launch

    calls: list[dict[str, Any]] = []

    def execute(archive, config, run_id, *, resume, emit, approve=None, **_: Any) -> None:
        calls.append({"run_id": run_id, "resume": resume, "approve": approve, "config": config})

    monkeypatch.setattr(launch, "execute", execute)
    monkeypatch.setattr("clade.orchestrator.dgm.report.summary", lambda *a, **k: None)
    return calls


def _archive():
    from clade.orchestrator.home import open_archive

    return open_archive()


def test_an_empty_resume_id_is_an_error_not_a_new_run(recorded, clade_home):
    from clade.archive.errors import ConfigError

    result = CliRunner().invoke(app, ["run", "--resume", ""])
    assert isinstance(result.exception, ConfigError) and result.exception.exit_code == 2
    assert "--resume needs a run id" in str(result.exception)
    assert recorded == []
    assert not (clade_home / "clade.db").exists() or _archive().list_runs() == []


def test_a_run_held_by_another_process_is_refused_with_one_line(recorded):
    from clade.archive.errors import RunLocked

    archive = _archive()
    run_id = archive.create_run("held", config={}).id
    with archive.lock_run(run_id):
        result = CliRunner().invoke(app, ["run", "--resume", run_id])
    assert isinstance(result.exception, RunLocked)
    assert f"run {run_id} is already being worked on by pid" in str(result.exception)
    assert recorded == []


def test_approve_is_kept_with_the_run_and_applies_on_resume(recorded):
    first = CliRunner().invoke(app, ["run", "--approve"])
    assert first.exit_code == 0, first.output
    run_id = recorded[0]["run_id"]
    assert recorded[0]["approve"] is not None and recorded[0]["config"].approve
    assert _archive().get_run(run_id).config["approve"] is True
    again = CliRunner().invoke(app, ["run", "--resume", run_id])  # no --approve this time
    assert again.exit_code == 0, again.output
    assert recorded[1]["resume"] and recorded[1]["approve"] is not None


def test_approve_turned_on_at_resume_is_kept_from_then_on(recorded):
    CliRunner().invoke(app, ["run"])
    run_id = recorded[0]["run_id"]
    assert recorded[0]["approve"] is None
    CliRunner().invoke(app, ["run", "--resume", run_id, "--approve"])
    CliRunner().invoke(app, ["run", "--resume", run_id])
    assert recorded[1]["approve"] is not None and recorded[2]["approve"] is not None


def test_a_run_that_asks_cannot_run_without_someone_to_answer(clade_home):
    from clade.archive.errors import ConfigError
    from clade.orchestrator.dgm.config import RunConfig
    from clade.orchestrator.dgm.launch import execute

    archive = _archive()
    config = RunConfig(approve=True)
    run_id = archive.create_run("asks", config=config.model_dump(mode="json")).id
    with pytest.raises(ConfigError, match="asks before evaluating each child"):
        execute(archive, config, run_id, resume=False, emit=lambda e: None)
