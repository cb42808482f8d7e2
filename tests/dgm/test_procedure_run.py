"""The editable improvement procedure in a run: a child's meta/ makes its children.

Graph level: a real archive and checkpointer, in-process steps that use the parent's
procedure the way SandboxSteps does. Steps level: SandboxSteps.diagnose with the real model
layer and a recording scripted model, so the prompt the diagnose role receives is checked.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
import uuid
from pathlib import Path

import pytest

from clade import prompts
from clade.archive.facade import Archive
from clade.orchestrator.dgm import procedure as P
from clade.orchestrator.dgm.diagnosis import Proposal
from clade.orchestrator.dgm.protocol import Modification
from clade.orchestrator.evaluators.base import Score
from clade.orchestrator.evaluators.generated import WordSorting
from tests.inprocess_runs import archive_in, invoke, start_run, trees_in, word_sorting_config

TASKS = WordSorting(n=40).tasks("dev")
EDITED = "MY PROCEDURE: {{ task }}\n{% for m in more_failures %}AND: {{ m.task }}\n{% endfor %}"
EDITED_CHOICE = {"order": "task_order", "show": 2, "log_chars": 300}


class ProcedureSteps:
    """Agents are trees whose skill.txt lists the tasks they solve. Diagnosis renders the
    parent's meta/diagnose.j2 with the failures its meta/choose_failure.json picks (as
    SandboxSteps does); the first child rewrites its own meta/."""

    def __init__(self, archive: Archive, tmp: Path) -> None:
        self.archive, self.tmp = archive, tmp
        self.prompts: dict[str, str] = {}

    def _files(self, candidate) -> dict[str, bytes]:
        return self.archive.blobs.files(candidate.tree_hash)

    def _tree(self, files: dict[str, bytes]) -> str:
        folder = Path(tempfile.mkdtemp(dir=self.tmp))
        for path, data in files.items():
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            (folder / path).write_bytes(data)
        return self.archive.put_tree(folder)

    def seed_tree(self) -> str:
        return self._tree({"skill.txt": TASKS[1].id.encode(), **P.default_files()})

    def diagnose(self, parent, failures, key=""):
        own = P.load_procedure(self._files(parent))
        shown = P.choose(failures, own.choice, run_seed=0, parent_id=parent.id, key=key)
        variables = {
            "files": [], "task": shown[0][0].statement, "trajectory": "", "result": "",
            "experience": False,
            "more_failures": [{"task": t.statement, "trajectory": "", "result": ""} for t, _, _ in shown[1:]],
        }  # fmt: skip
        self.prompts[key] = P.render(own, P.DIAGNOSE, variables)
        task = shown[0][0]
        return Proposal(
            what_failed=task.id, improvement="learn it", implementation_plan="add it",
            problem_statement=f"learn task {task.id}",
        )  # fmt: skip

    def self_modify(self, parent, proposal, key):
        files = self._files(parent)
        files["skill.txt"] = files["skill.txt"] + b" " + proposal.what_failed.encode()
        if key == "g1c0":  # this child improves how its own children are made
            files[P.DIAGNOSE] = EDITED.encode()
            files[P.CHOOSE] = json.dumps(EDITED_CHOICE).encode()
        if key == "g1c1":  # this one breaks its procedure
            files[P.CHOOSE] = b"{broken"
            del files[P.SELF_IMPROVE]
        return Modification(self._tree(files), "edited")

    def evaluate(self, candidate, tasks):
        skills = set(self._files(candidate)["skill.txt"].decode().split())
        return [(Score(score=float(t.id in skills), passed=t.id in skills), {}) for t in tasks]

    def review(self, parent, diff):  # pragma: no cover - review is off
        raise AssertionError("review is off")


@pytest.fixture
def saver(tmp_path):
    from langgraph.checkpoint.sqlite import SqliteSaver

    connection = sqlite3.connect(tmp_path / "checkpoints.db", check_same_thread=False)
    yield SqliteSaver(connection)
    connection.close()


def _run(tmp_path, saver, editable: bool):
    archive = archive_in(tmp_path)
    config = word_sorting_config(
        [{"tasks": 4, "threshold": 0.0}], improvement={"editable": editable}
    )
    steps = ProcedureSteps(archive, trees_in(tmp_path))
    run_id, dgm = start_run(archive, config, WordSorting(n=40), steps)
    invoke(dgm, run_id, saver)
    return (
        archive,
        steps,
        {
            archive.get_candidate(r.id).meta.get("key"): archive.get_candidate(r.id)
            for r in archive.list_candidates(run_id)
        },
    )


def test_a_child_that_rewrote_its_procedure_makes_its_children_with_it(tmp_path, saver):
    archive, steps, by_key = _run(tmp_path, saver, editable=True)
    seed, edited, broken = by_key["seed"], by_key["g1c0"], by_key["g1c1"]
    files = archive.blobs.files
    seed_hash, edited_hash = P.digest(files(seed.tree_hash)), P.digest(files(edited.tree_hash))
    assert edited.meta["procedure"] == {"hash": seed_hash, "fallbacks": {}}  # made by the seed's
    assert not steps.prompts["g1c0"].startswith("MY PROCEDURE")
    # Generation 2: the best parent is drawn for both children; whichever made them is recorded.
    for key in ("g2c0", "g2c1"):
        child = by_key[key]
        parent_hash = P.digest(files(archive.get_candidate(child.parent_id).tree_hash))
        assert child.meta["procedure"]["hash"] == parent_hash
        if child.parent_id == edited.id:
            assert parent_hash == edited_hash != seed_hash
            # The edited template, with the two failures its choice file asks for.
            assert steps.prompts[key].startswith("MY PROCEDURE: ")
            assert steps.prompts[key].count("AND: ") == 1
        if child.parent_id == broken.id:
            assert set(child.meta["procedure"]["fallbacks"]) == {P.CHOOSE, P.SELF_IMPROVE}
    assert edited.id in {by_key[k].parent_id for k in ("g2c0", "g2c1")}
    # The diff shows the procedure's change apart from the task part's.
    meta_diff = archive.diff(seed.id, edited.id, "meta")
    assert "+MY PROCEDURE" in meta_diff and "skill.txt" not in meta_diff
    assert "skill.txt" in archive.diff(seed.id, edited.id, "task")
    assert "meta/" not in archive.diff(seed.id, edited.id, "task")


def test_with_the_option_off_nothing_is_recorded(tmp_path, saver):
    _archive, _steps, by_key = _run(tmp_path, saver, editable=False)
    assert all("procedure" not in c.meta for c in by_key.values())


# -- SandboxSteps --------------------------------------------------------------------------
def _sandbox_steps(tmp_path, editable: bool, seen: list[list[dict]]):
    from clade.orchestrator.dgm.steps import SandboxSteps
    from clade.orchestrator.evaluators.runner import AgentLimits
    from clade.orchestrator.models import (
        Gateway,
        MemorySink,
        ModelLayer,
        ModelsConfig,
        register_script,
    )
    from clade.sandbox import SandboxConfig

    def model(messages):
        seen.append(messages)
        return json.dumps({"what_failed": "gave up", "improvement": "sort words",
                           "implementation_plan": "edit the prompt",
                           "problem_statement": "Edit coder/prompts/system.md to sort."})  # fmt: skip

    name = register_script(f"procedure-{uuid.uuid4().hex[:8]}", model)
    layer = ModelLayer(ModelsConfig.model_validate({"default": name}), sink=MemorySink())
    archive = Archive(f"sqlite:///{tmp_path / 'clade.db'}", tmp_path / "blobs")
    run = archive.create_run(name="t", config={})
    steps = SandboxSteps(
        archive, run.id, WordSorting(n=12), Gateway(layer), None, SandboxConfig(image="x"),
        AgentLimits(), 1, editable=editable,
    )  # fmt: skip
    return archive, run.id, steps


FAILED = [
    (TASKS[i], Score(score=0.0, passed=False, detail=f"detail {i}"), f"log of task {i} " * 40)
    for i in range(3)
]


def test_the_parents_meta_diagnose_template_is_what_the_diagnose_role_receives(tmp_path):
    seen: list[list[dict]] = []
    archive, run_id, steps = _sandbox_steps(tmp_path, editable=True, seen=seen)
    seed = archive.add_candidate(run_id, steps.seed_tree(), status="admitted", meta={"key": "seed"})
    seed_files = archive.blobs.files(seed.tree_hash)
    assert P.meta_files(seed_files) == P.default_files()  # the shipped procedure, in the tree
    steps.diagnose(seed, FAILED, "g1c0")
    shipped_prompt = seen[-1][0]["content"]
    assert shipped_prompt.startswith("You are improving a coding agent")
    assert "## meta/diagnose.j2" in shipped_prompt  # the diagnosis sees the procedure too

    folder = tmp_path / "child"
    for path, data in seed_files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(data)
    (folder / P.DIAGNOSE).write_text(EDITED + "RESULT={{ result }} LOG={{ trajectory | length }}\n")
    (folder / P.CHOOSE).write_text(json.dumps(EDITED_CHOICE))
    child = archive.add_candidate(
        run_id, archive.put_tree(folder), parent_id=seed.id, status="admitted"
    )
    steps.diagnose(child, FAILED, "g2c0")
    prompt = seen[-1][0]["content"]
    assert prompt == (
        f"MY PROCEDURE: {TASKS[0].statement}\nAND: {TASKS[1].statement}\nRESULT=detail 0 LOG=300\n"
    )  # task_order from the child's index 0, two shown, the log cut to what it holds


def test_option_off_keeps_the_seed_tree_and_the_prompt_as_before(tmp_path):
    from clade.orchestrator.dgm.sampling import pick
    from clade.orchestrator.dgm.steps import CODE_BUDGET, LOG_BUDGET, fit_sources
    from clade.orchestrator.home import SEED_PARTS, seed_agent_folder, seed_files

    seen: list[list[dict]] = []
    archive, run_id, steps = _sandbox_steps(tmp_path, editable=False, seen=seen)
    seed = archive.add_candidate(run_id, steps.seed_tree(), status="admitted")
    files = archive.blobs.files(seed.tree_hash)
    assert files == seed_files(seed_agent_folder(), SEED_PARTS)
    assert not P.meta_files(files)
    steps.diagnose(seed, FAILED, "g1c1")
    task, score, log = pick(FAILED, 0, seed.id, "g1c1")
    sources = {p: d.decode() for p, d in files.items() if p.endswith((".py", ".md"))}
    expected = prompts.render(
        "diagnose", files=fit_sources(sources, CODE_BUDGET), task=task.statement,
        trajectory=log[-LOG_BUDGET:], result=score.detail, experience=False, more_failures=[],
    )  # fmt: skip
    assert seen[-1][0]["content"] == expected
