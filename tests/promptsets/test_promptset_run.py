"""Prompt-set runs: the DGM graph over conductor prompt sets, with scripted models.

A real archive, a real LangGraph checkpointer and the real conductor; only the models are
scripted (see conftest.py). A mutation that teaches the conductor to sort is admitted
because the validation tasks improve; one that copies the failures it was shown improves
the dev tasks only and is rejected; so is a neutral one; a reply that does not give a
usable template makes a failed child, and a run killed mid-way resumes.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from clade.orchestrator.dgm.config import RunConfig
from clade.orchestrator.dgm.graph import DGMRun, build_graph
from clade.orchestrator.evaluators.registry import load_evaluator
from clade.orchestrator.promptsets import PromptSetSteps, prompt_set_of

EVALUATION = {
    "evaluator": "word-sorting",
    "options": {"n": 60, "min_words": 3, "max_words": 6},
    "stages": [{"tasks": 4}],
}


class Crash(BaseException):
    """Stands for the process dying in the middle of a step."""


class CountingSteps(PromptSetSteps):
    """The real steps, counting evaluated tasks; ``crash_at``: die on that evaluate call."""

    crash_at: int | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.evaluated: list[str] = []
        self.calls = 0

    def evaluate(self, candidate, tasks):
        self.calls += 1
        if self.calls == self.crash_at:
            raise Crash("killed")
        self.evaluated += [f"{candidate.id}:{t.id}" for t in tasks]
        return super().evaluate(candidate, tasks)


@pytest.fixture
def saver(tmp_path):
    from langgraph.checkpoint.sqlite import SqliteSaver

    connection = sqlite3.connect(tmp_path / "checkpoints.db", check_same_thread=False)
    yield SqliteSaver(connection)
    connection.close()


@pytest.fixture
def archive(clade_home):
    from clade.orchestrator.home import open_archive

    with open_archive() as opened:
        yield opened


def config_of(models: dict[str, Any], admit: str = "validation", **more: Any) -> RunConfig:
    return RunConfig.model_validate(
        {
            "kind": "prompt_set",
            "models": models,
            "evaluation": EVALUATION,
            "selection": {"policy": "best", "children_per_generation": 1, "admit": admit,
                          "validation_tasks": 10},
            "prompt_set": {"fields": ["meta"], "failures": 4, "rounds": 2},
            "budget": {"generations": 1},
            "parallelism": 1,
            **more,
        }
    )  # fmt: skip


def start(archive, config: RunConfig, crash_at: int | None = None):

    run_id = archive.create_run(name="ps", config=config.model_dump(mode="json")).id
    return run_id, dgm_of(archive, config, run_id, crash_at)


def dgm_of(archive, config: RunConfig, run_id: str, crash_at: int | None = None):
    from clade.orchestrator.models.layer import ModelLayer
    from clade.orchestrator.models.metering import ArchiveSink

    evaluator = load_evaluator("word-sorting", **EVALUATION["options"])
    layer = ModelLayer(config.models, sink=ArchiveSink(archive), run_id=run_id)
    steps = CountingSteps(archive, run_id, evaluator, layer, config.prompt_set)
    steps.crash_at = crash_at
    events: list[dict[str, Any]] = []
    return DGMRun(archive, config, evaluator, steps, emit=events.append), steps, events


def invoke(dgm, run_id, saver, resume=False):
    graph = build_graph(dgm, saver)
    config = {"configurable": {"thread_id": run_id}, "max_concurrency": 1}
    return graph.invoke(None if resume else {"run_id": run_id}, config, durability="sync")


def val_scores(archive, candidate_id: str) -> list[float]:
    rows = archive.attempt_rows(archive.get_candidate(candidate_id).run_id, "word-sorting", "val")
    return [r.score for r in rows if r.candidate_id == candidate_id]


def test_a_mutation_that_generalises_is_admitted_on_validation(archive, saver, models):
    config = config_of(models("good"))
    run_id, (dgm, _steps, events) = start(archive, config)
    invoke(dgm, run_id, saver)
    seed, child = archive.list_candidates(run_id)
    assert (seed.kind, child.kind) == ("prompt_set", "prompt_set")
    assert child.status == "admitted", reason(archive, child)
    meta = prompt_set_of(archive.blobs.files(child.tree_hash)).meta
    assert meta.startswith("ALWAYS SORT") and "+ALWAYS SORT" in archive.diff(seed.id, child.id)
    # Validation: 10 dev tasks after the stage's 4, recorded under `val`, once per candidate.
    assert len(val_scores(archive, seed.id)) == 10 and val_scores(archive, child.id) == [1.0] * 10
    assert sum(val_scores(archive, seed.id)) < 10
    (validated,) = [e for e in events if e["event"] == "validated"]
    assert validated["ci_low"] > 0 and validated["gain"] > 0
    dev = [t.id for t in dgm.evaluator.tasks("dev")]
    staged, held = set(dev[:4]), set(dev[4:14])
    made = archive.get_log(archive.get_candidate(child.id).meta["self_modify_log"])
    # The mutate role saw dev failures of the stage, never a validation task.
    assert "field: meta" in made
    shown = {
        t.id
        for t in dgm.evaluator.tasks("dev")
        if t.statement.split(": ")[1].split("\n")[0] in made
    }
    assert shown and shown <= staged and not shown & held
    with sqlite3.connect(archive_path(archive)) as db:
        roles = dict(db.execute("SELECT role, candidate_id FROM model_call WHERE role = 'mutate'"))
    assert roles == {"mutate": seed.id}  # metered to the parent
    # The evolved set is a conductor prompt set `clade solve --prompt-set` loads.
    from clade.orchestrator.conductor import load_prompt_set

    assert load_prompt_set(archive, child.id).meta == meta
    # The dashboard shows the run, the child's diff and its validation score.
    from starlette.testclient import TestClient

    from clade.orchestrator.dashboard.app import create_app

    with TestClient(create_app(archive)) as client:
        page = client.get(f"/runs/{run_id}")
        assert page.status_code == 200 and "word-sorting/val" in page.text
        shown = client.get(f"/candidates/{child.id}")
        assert shown.status_code == 200 and "ALWAYS SORT" in shown.text


def reason(archive, row) -> str:
    return archive.get_candidate(row.id).rejection_reason or ""


def archive_path(archive) -> str:
    from clade.orchestrator.config import settings

    return str(settings().home / "clade.db")


def test_a_mutation_that_copies_its_failures_is_rejected_on_validation(archive, saver, models):
    config = config_of(models("memorise"))
    run_id, (dgm, _steps, _events) = start(archive, config)
    invoke(dgm, run_id, saver)
    seed, child = archive.list_candidates(run_id)
    assert child.scores["word-sorting/dev"] == 1.0 > seed.scores["word-sorting/dev"]
    assert child.status == "rejected"
    assert reason(archive, child).startswith("validation gain +0.000 on 10 tasks")
    assert val_scores(archive, child.id) == val_scores(archive, seed.id)


def test_without_validation_the_same_copying_mutation_is_admitted(archive, saver, models):
    run_id, (dgm, _steps, _events) = start(archive, config_of(models("memorise"), admit="score"))
    invoke(dgm, run_id, saver)
    _seed, child = archive.list_candidates(run_id)
    assert child.status == "admitted" and val_scores(archive, child.id) == []


def test_a_neutral_mutation_is_rejected(archive, saver, models):
    run_id, (dgm, _steps, _events) = start(archive, config_of(models("neutral")))
    invoke(dgm, run_id, saver)
    _seed, child = archive.list_candidates(run_id)
    assert child.status == "rejected" and "lower bound" in reason(archive, child)


@pytest.mark.parametrize(
    ("how", "why"),
    [("broken", "self-modification failed: SelfModificationFailed: no usable meta template"),
     ("nonsense", "diagnosis failed: no valid proposal")],
)  # fmt: skip
def test_a_bad_mutate_reply_is_a_failed_child_and_the_run_goes_on(archive, saver, models, how, why):
    config = config_of(models(how), budget={"generations": 2})
    run_id, (dgm, _steps, _events) = start(archive, config)
    invoke(dgm, run_id, saver)
    _seed, *children = archive.list_candidates(run_id)
    assert [c.status for c in children] == ["failed", "failed"]
    assert all(reason(archive, c).startswith(why) for c in children), reason(archive, children[0])
    assert archive.get_run(run_id).status == "finished"
    if how == "broken":
        log = archive.get_log(archive.get_candidate(children[0].id).meta["self_modify_log"])
        assert "UndefinedError" in log and "'minutes' is undefined" in log


def test_a_run_killed_during_validation_resumes_without_redoing_work(archive, saver, models):
    config = config_of(models("good"))
    # Evaluate calls: the seed's stage (1), the child's stage (2), the seed on val (3),
    # the child on val (4): die in the 4th.
    run_id, (dgm, _steps, _events) = start(archive, config, crash_at=4)
    with pytest.raises(Crash):
        invoke(dgm, run_id, saver)
    seed, child = archive.list_candidates(run_id)
    assert child.status == "evaluating" and len(val_scores(archive, seed.id)) == 10
    before = len(archive.attempt_rows(run_id, "word-sorting", "dev"))
    dgm2, steps2, _ = dgm_of(archive, config, run_id)
    invoke(dgm2, run_id, saver, resume=True)
    seed, child = archive.list_candidates(run_id)
    assert child.status == "admitted"
    # Only the child's validation ran again: the seed's val and every dev task were kept.
    assert steps2.evaluated == [f"{child.id}:{t}" for t in
                                [x.id for x in dgm2.evaluator.tasks("dev")[4:14]]]  # fmt: skip
    assert len(archive.attempt_rows(run_id, "word-sorting", "dev")) == before
    assert archive.get_run(run_id).status == "finished"


def test_too_few_dev_tasks_for_validation_is_one_clear_error(archive, saver, models):
    from clade.archive.errors import ConfigError

    config = config_of(models("good"))
    config = config.model_copy(
        update={"selection": config.selection.model_copy(update={"validation_tasks": 500})}
    )
    run_id, (dgm, _steps, _events) = start(archive, config)
    with pytest.raises(ConfigError, match="needs 504 dev tasks"):
        invoke(dgm, run_id, saver)


def test_clade_run_evolves_a_prompt_set_and_clade_archive_shows_it(clade_home, models, tmp_path):
    import yaml
    from typer.testing import CliRunner

    from clade.orchestrator.cli import app

    config = config_of(models("good")).model_dump(mode="json", exclude_defaults=True)
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(app, ["run", str(path)])
    assert result.exit_code == 0, result.output
    from clade.orchestrator.home import open_archive

    archive = open_archive()
    (run,) = archive.list_runs()
    assert run.kind == "dgm" and archive.get_run(run.id).config["kind"] == "prompt_set"
    seed, child = archive.list_candidates(run.id)
    assert child.status == "admitted"
    tree = CliRunner().invoke(app, ["archive", "tree", run.id])
    assert tree.exit_code == 0, tree.output
    assert "admitted" in tree.output
    diff = CliRunner().invoke(app, ["archive", "diff", seed.id, child.id])
    assert diff.exit_code == 0 and "+ALWAYS SORT" in diff.output


@pytest.mark.parametrize(
    ("override", "message"),
    [("experience.children=1", "experience.children: the experience mutation"),
     ("prompt_set.fields=[bogus]", "prompt_set.fields.0"),
     ("prompt_set.seed=/no/such/folder", "is not a folder")],
)  # fmt: skip
def test_bad_prompt_set_options_are_one_line_errors(clade_home, override, message):
    from typer.testing import CliRunner

    from clade.archive.errors import ConfigError
    from clade.orchestrator.cli import app

    result = CliRunner().invoke(app, ["run", "--set", "kind=prompt_set", "--set", override])
    assert isinstance(result.exception, ConfigError), result.output
    assert message in str(result.exception) and result.exception.exit_code == 2
    assert not (clade_home / "clade.db").exists() or _no_runs()


def _no_runs() -> bool:
    from clade.orchestrator.home import open_archive

    return open_archive().list_runs() == []


@pytest.mark.parametrize(
    ("example", "family"), [("prompt_set.yaml", "conductor"), ("judge_prompts.yaml", "judge")]
)
def test_the_example_configs_are_valid_prompt_set_runs(example, family):
    from pathlib import Path

    from clade.orchestrator.dgm.config import load_config
    from clade.orchestrator.promptsets import check_prompt_set_config

    config = load_config(Path(__file__).parents[2] / "examples" / example)
    assert (config.kind, config.prompt_set.family, config.selection.admit) == (
        "prompt_set",
        family,
        "validation",
    )
    check_prompt_set_config(config)
    evaluator = load_evaluator(config.evaluation.evaluator, **config.evaluation.options)
    from clade.orchestrator.dgm.validation import validation_tasks

    assert len(validation_tasks(evaluator, config)) == config.selection.validation_tasks


def test_a_machine_failure_while_solving_is_no_verdict_on_the_set(archive, models, monkeypatch):
    from clade.archive.errors import InfrastructureError
    from clade.orchestrator.promptsets import steps as steps_module

    def engine_gone(*args: Any, **kwargs: Any) -> Any:
        raise InfrastructureError("the llama.cpp engine restarted")

    config = config_of(models("good"))
    run_id, (dgm, steps, _events) = start(archive, config)
    seed = archive.add_candidate(run_id, steps.seed_tree(), kind="prompt_set")
    tasks = dgm.evaluator.tasks("dev")[:2]
    monkeypatch.setattr(steps_module, "solve", engine_gone)
    with pytest.raises(InfrastructureError, match="engine restarted"):
        steps.evaluate(seed, tasks)
