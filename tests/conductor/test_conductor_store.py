"""The meta-expert prompt set as an archive candidate, and `clade solve` end to end."""

from __future__ import annotations

import sqlite3

import pytest
from typer.testing import CliRunner

from clade.archive.errors import ConfigError
from clade.orchestrator.cli import app
from clade.orchestrator.conductor import PromptSet, load_prompt_set, solve, store_prompt_set
from clade.orchestrator.models.scripted import register_script

from .conftest import Scripted, expert_turn, final


@pytest.fixture
def archive(clade_home):
    from clade.orchestrator.home import open_archive

    with open_archive() as opened:
        yield opened


def test_a_prompt_set_round_trips_through_the_archive(archive, make_layer):
    changed = PromptSet.default().model_copy(
        update={"meta": "You are a terse Meta-Expert with {{ rounds }} rounds."}
    )
    candidate_id = store_prompt_set(archive, changed)
    record = archive.get_candidate(candidate_id)
    assert record.kind == "prompt_set" and record.meta == {"family": "conductor"}
    assert archive.get_run(record.run_id).kind == "conductor"
    loaded = load_prompt_set(archive, candidate_id[:10])
    assert loaded == changed
    conductor = Scripted([final("ok")])
    solve("q", make_layer(conductor), prompts=loaded, rounds=3)
    assert conductor.seen[0][0]["content"] == "You are a terse Meta-Expert with 3 rounds."


def test_a_candidate_that_is_not_a_prompt_set_is_refused(archive, tmp_path):
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "agent.py").write_text("print(1)\n")
    run = archive.create_run("agents", kind="dgm")
    agent = archive.add_candidate(run.id, archive.put_tree(tmp_path / "tree"))
    with pytest.raises(ConfigError, match="not a conductor prompt set"):
        load_prompt_set(archive, agent.id)


def test_clade_solve_prints_the_answer_and_stores_the_trace(archive, clade_home):
    conductor = register_script(
        "cli-conductor", Scripted([expert_turn(("Mathematician", "6 * 7?")), final("42")])
    )
    expert = Scripted(["42"])
    expert_model = register_script("cli-expert", expert)
    result = CliRunner().invoke(
        app,
        ["solve", "What is 6 * 7?", "--model", conductor, "--expert-model", expert_model,
         "--no-python", "--show-trace", "--rounds", "5"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "42" in result.output.splitlines() and "ROUND 1:" in result.output
    assert "Expert Mathematician" in result.output and len(expert.seen) == 1
    (run,) = [r for r in archive.list_runs() if r.kind == "conductor"]
    assert run.status == "finished"
    (trace,) = archive.traces(run_id=run.id, kind="conductor")
    assert trace.answer == "42" and trace.item == "What is 6 * 7?" and trace.calls == 3
    assert [s["kind"] for s in trace.steps] == ["message", "message", "message", "expert",
                                                "message", "message"]  # fmt: skip
    with sqlite3.connect(clade_home / "clade.db") as db:
        roles = db.execute("SELECT role, count(*) FROM model_call WHERE run_id = ? GROUP BY role",
                           (run.id,)).fetchall()  # fmt: skip
    assert sorted(roles) == [("conductor", 2), ("expert", 1)]


def test_an_unknown_prompt_set_is_one_clear_error(archive):
    from clade.archive.errors import CladeError

    result = CliRunner().invoke(app, ["solve", "q", "--prompt-set", "0123456789ab", "--no-python"])
    assert result.exit_code != 0 and isinstance(result.exception, CladeError)
    assert "0123456789ab" in str(result.exception) and result.exception.hint
    assert [r for r in archive.list_runs() if r.kind == "conductor"] == []


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_clade_solve_runs_on_the_embedded_model(archive):
    result = CliRunner().invoke(
        app,
        ["solve", "What is 2 + 2?", "--model", "smollm2-135m", "--rounds", "1",
         "--max-tokens", "32", "--no-python"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (trace,) = archive.traces(kind="conductor")
    assert trace.calls == 1 and trace.tokens > 0 and trace.steps[-1]["role"] == "assistant"
    assert ("no answer" in result.output) == (trace.answer is None)


def test_a_prompt_set_folder_is_saved_edited_and_stored_as_a_candidate(archive, tmp_path):
    conductor = Scripted([final("42")] * 2)
    model = register_script("folder-conductor", conductor)
    folder = tmp_path / "prompts"
    base = ["solve", "What is 6 * 7?", "--model", model, "--no-python", "--rounds", "2"]
    first = CliRunner().invoke(app, [*base, "--save-prompts", str(folder)])
    assert first.exit_code == 0, first.output
    assert (folder / "meta.j2").read_text() == PromptSet.default().meta
    (folder / "meta.j2").write_text("EDITED meta-expert instruction.\n")

    second = CliRunner().invoke(app, [*base, "--prompt-set", str(folder)])
    assert second.exit_code == 0, second.output
    assert "EDITED meta-expert instruction." in str(conductor.seen[-1])
    run = max((r for r in archive.list_runs() if r.kind == "conductor"), key=lambda r: r.id)
    (trace,) = archive.traces(run_id=run.id)
    assert trace.candidate_id is not None
    assert archive.get_candidate(trace.candidate_id).kind == "prompt_set"
    assert load_prompt_set(archive, trace.candidate_id).meta == "EDITED meta-expert instruction.\n"
