"""The experience mutation (experience.py) and the split discipline, with a real archive.

In-process steps stand in for sandboxes here (the Docker run with the real agent is in
test_efficacy_experience_run.py): each "agent" is a tree whose ``skill.txt`` lists the
tasks it solves, and every evaluation log holds a trajectory like the seed agent writes.
"""

from __future__ import annotations

import json
import random
import sqlite3
import tempfile
from pathlib import Path

import pytest

from clade.archive.facade import Archive
from clade.orchestrator.dgm.config import RunConfig
from clade.orchestrator.dgm.diagnosis import Proposal
from clade.orchestrator.dgm.experience import (
    EXPERIENCE_FILE,
    Example,
    Turn,
    held_tasks,
    parse_turns,
    read_examples,
    solved_dev_examples,
    with_experience,
)
from clade.orchestrator.dgm.graph import DGMRun, build_graph
from clade.orchestrator.dgm.ledger import Ledger
from clade.orchestrator.dgm.protocol import Modification
from clade.orchestrator.evaluators.base import Score, split_of
from clade.orchestrator.evaluators.generated import WordSorting

WORDS = WordSorting(n=40)
DEV, TEST = WORDS.tasks("dev"), WORDS.tasks("test")


def trajectory_log(task: str, replies: list[str], *, score: float = 1.0) -> str:
    """An evaluation log as the runner records it: score, agent exit, trajectory lines."""
    lines = [json.dumps({"event": "start", "task": task, "examples": 0})]
    for step, reply in enumerate(replies, 1):
        action = None if reply == "rambling" else ("finish" if "finish" in reply else "bash")
        observation = "" if action == "finish" else f"[result of step {step}]"
        lines.append(json.dumps({"event": "step", "step": step, "reply": reply,
                                 "action": action, "observation": observation}))  # fmt: skip
    lines.append(json.dumps({"event": "end", "status": "finished", "steps": len(replies)}))
    return f"score: {score} \nagent exit: ok\nstdout: \nstderr: \ntrajectory:\n" + "\n".join(lines)


SOLVING = ["rambling", "<bash>python3 solve.py a b > answer.txt</bash>", "<finish>done</finish>"]


# -- parsing and building -----------------------------------------------------------------
def test_parse_turns_keeps_actions_and_drops_malformed_replies():
    turns = parse_turns(trajectory_log("sort a b", SOLVING))
    assert [t.assistant for t in turns] == SOLVING[1:]
    assert turns[0].observation == "[result of step 2]" and turns[1].observation == ""


def test_parse_turns_refuses_incomplete_trajectories():
    log = trajectory_log("sort a b", SOLVING)
    assert parse_turns(log.split("trajectory:\n")[0]) is None  # no trajectory at all
    head, tail = log.split('{"event": "start"', 1)
    assert parse_turns(head + tail.split("\n", 1)[1]) is None  # the start was cut off
    gap = "\n".join(line for line in log.splitlines() if '"step": 2' not in line)
    assert parse_turns(gap) is None  # a step is missing
    assert parse_turns(trajectory_log("t", ["rambling"])) is None  # nothing worth copying


def _example(task: str, n: int = 1) -> Example:
    return Example(task=task, turns=[Turn(assistant=f"<bash>echo {task}</bash>")] * n)


def test_with_experience_adds_new_examples_after_the_held_ones():
    solved = [(f"t{i}", _example(f"task {i}")) for i in range(6)]
    files = {"coder/loop.py": b"code"}
    child, added = with_experience(files, solved, examples=2, max_chars=10_000)
    assert added == ["t0", "t1"] and child["coder/loop.py"] == b"code"
    assert [e.task for e in read_examples(child)] == ["task 0", "task 1"]
    grandchild, more = with_experience(child, solved, examples=4, max_chars=10_000)
    assert more == ["t2", "t3"]
    assert [e.task for e in read_examples(grandchild)] == [f"task {i}" for i in range(4)]
    assert with_experience(grandchild, solved, examples=4, max_chars=10_000) is None  # full
    assert with_experience(child, solved[:2], examples=4, max_chars=10_000) is None  # none new
    assert with_experience(files, [], examples=4, max_chars=10_000) is None


def test_with_experience_respects_the_size_and_draws_for_siblings():
    solved = [(f"t{i}", _example(f"task {i}", n=1 + 5 * (i == 0))) for i in range(8)]
    one = len(solved[1][1].line()) + 1
    _, added = with_experience({}, solved, examples=3, max_chars=2 * one)
    assert added == ["t1", "t2"]  # t0 is too long to fit beside them; the file stays small
    draws = {
        tuple(with_experience({}, solved, examples=3, max_chars=10_000, rng=random.Random(s))[1])
        for s in range(10)
    }
    assert len(draws) > 1 and all(len(d) == 3 for d in draws)


def test_held_tasks_match_by_statement():
    files = {EXPERIENCE_FILE: (_example(DEV[0].statement).line() + "\n").encode()}
    assert held_tasks(files, DEV) == {DEV[0].id}
    assert held_tasks({}, DEV) == set()


# -- split discipline ---------------------------------------------------------------------
@pytest.fixture
def archive(tmp_path):
    return Archive(f"sqlite:///{tmp_path / 'clade.db'}", tmp_path / "blobs")


def _record(archive, candidate, task_id, statement, split, *, passed=True, attempt=0):
    archive.add_evaluations([{
        "candidate_id": candidate.id, "evaluator": "word-sorting", "split": split,
        "task_id": task_id, "attempt": attempt, "score": float(passed), "passed": passed,
        "log_hash": archive.put_log(trajectory_log(statement, SOLVING)),
    }])  # fmt: skip


def test_the_experience_store_holds_dev_tasks_only(archive, tmp_path):
    run = archive.create_run(name="t", config={})
    (tmp_path / "tree").mkdir()
    seed = archive.add_candidate(run.id, archive.put_tree(tmp_path / "tree"), meta={"key": "seed"})
    _record(archive, seed, DEV[0].id, DEV[0].statement, "dev")
    _record(archive, seed, DEV[1].id, DEV[1].statement, "dev", passed=False)
    _record(archive, seed, TEST[0].id, TEST[0].statement, "test")  # held-out scoring's row
    _record(archive, seed, TEST[1].id, TEST[1].statement, "dev")  # a test task filed as dev
    solved = solved_dev_examples(archive, run.id, "word-sorting", WORDS.tasks("dev"))
    assert [task_id for task_id, _ in solved] == [DEV[0].id]
    assert solved[0][1].task == DEV[0].statement
    # Even handed the test split as "dev tasks", no task of the test split gets through.
    forged = solved_dev_examples(archive, run.id, "word-sorting", TEST)
    assert forged == [] and all(split_of(t.id) == "test" for t in TEST)
    # Selection's ledger reads the dev split alone.
    assert {r.task_id for r in Ledger(archive, "word-sorting", "dev").rows(run.id)} == {
        DEV[0].id, DEV[1].id, TEST[1].id,
    }  # fmt: skip
    assert TEST[0].id not in {
        r.task_id for r in Ledger(archive, "word-sorting", "dev").rows(run.id)
    }


# -- in the run graph ---------------------------------------------------------------------
class ExperienceSteps:
    """The seed solves DEV[0] and DEV[2]; an agent holding worked examples solves every
    task; an edit adds nothing. Diagnosis proposes ``mutation`` (edit or experience)."""

    def __init__(self, archive: Archive, tmp: Path, mutation: str = "edit") -> None:
        self.archive, self.tmp, self.mutation = archive, tmp, mutation
        self.diagnosed = 0

    def _tree(self, files: dict[str, bytes]) -> str:
        folder = Path(tempfile.mkdtemp(dir=self.tmp))
        for name, data in files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
        return self.archive.put_tree(folder)

    def seed_tree(self):
        return self._tree({"skill.txt": f"{DEV[0].id} {DEV[2].id}".encode()})

    def diagnose(self, parent, failures, key=""):
        self.diagnosed += 1

        class Proposed(Proposal):
            mutation: str = self.mutation

        return Proposed(
            what_failed="the task", improvement="learn from successes",
            implementation_plan="add worked examples", problem_statement="learn from your successes",
        )  # fmt: skip

    def self_modify(self, parent, proposal, key):
        files = self.archive.blobs.files(parent.tree_hash)
        return Modification(self._tree({**files, "notes.txt": key.encode()}), "edited")

    def evaluate(self, candidate, tasks):
        files = self.archive.blobs.files(candidate.tree_hash)
        skills = set(files.get("skill.txt", b"").decode().split())
        learned = bool(read_examples(files))
        results = []
        for t in tasks:
            passed = learned or t.id in skills
            log = trajectory_log(t.statement, SOLVING if passed else ["rambling"])
            results.append((Score(score=float(passed), passed=passed), {"log": log}))
        return results

    def review(self, parent, diff):
        raise AssertionError("review is off")


def _run(archive, tmp_path, *, mutation="edit", steps_cls=ExperienceSteps, **overrides):
    from langgraph.checkpoint.sqlite import SqliteSaver

    config = RunConfig.model_validate({
        "evaluation": {"evaluator": "word-sorting", "options": {"n": 40}, "stages": [{"tasks": 4}]},
        "selection": {"policy": "best", "children_per_generation": 1},
        "budget": {"generations": 1},
        **overrides,
    })  # fmt: skip
    (tmp_path / "trees").mkdir(exist_ok=True)
    steps = steps_cls(archive, tmp_path / "trees", mutation)
    run = archive.create_run(name="t", config=config.model_dump(mode="json"))
    events: list[dict] = []
    dgm = DGMRun(archive, config, WORDS, steps, emit=events.append)
    with sqlite3.connect(tmp_path / "cp.db", check_same_thread=False) as connection:
        graph = build_graph(dgm, SqliteSaver(connection))
        graph.invoke({"run_id": run.id}, {"configurable": {"thread_id": run.id}}, durability="sync")
    return run.id, steps, events


@pytest.mark.parametrize("how", ["scheduled", "proposed"])
def test_an_experience_child_gains_the_solved_dev_tasks_with_its_diff(archive, tmp_path, how):
    if how == "scheduled":
        run_id, steps, events = _run(archive, tmp_path, experience={"children": 1})
        assert steps.diagnosed == 0  # scheduled by the run's options: no diagnosis needed
    else:
        run_id, steps, events = _run(archive, tmp_path, mutation="experience")
        assert steps.diagnosed == 1
    seed, child = archive.list_candidates(run_id)
    record = archive.get_candidate(child.id)
    assert record.meta["mutation"] == "experience"
    # Fewest turns first, then the shortest: both took 2 turns, DEV[2]'s is shorter.
    assert record.meta["examples"] == [DEV[2].id, DEV[0].id]
    assert (record.proposal is None) == (how == "scheduled")
    diff = archive.diff(seed.id, child.id)
    assert f"+++ b/{EXPERIENCE_FILE}" in diff or EXPERIENCE_FILE in diff
    added = [line[1:] for line in diff.splitlines() if line.startswith("+{")]
    assert [json.loads(line)["task"] for line in added] == [DEV[2].statement, DEV[0].statement]
    assert all(json.loads(line)["turns"][0]["assistant"] == SOLVING[1] for line in added)
    assert {"event": "experience", "key": "g1c0", "examples": 2} in events
    # It solves all 4 staged tasks, but is credited only on the 2 it holds no example of.
    assert child.score == 1.0 and record.status == "admitted"
    ledger = Ledger(archive, "word-sorting", "dev")
    assert ledger.tally(record).n == 4
    held = held_tasks(archive.blobs.files(record.tree_hash), DEV)
    assert held == {DEV[0].id, DEV[2].id}
    credited = ledger.tally(record, lambda cid: held if cid == record.id else set())
    assert (credited.n, credited.passed) == (2, 2)


def test_with_nothing_solved_yet_an_experience_proposal_becomes_an_edit(archive, tmp_path):
    class SolvesNothing(ExperienceSteps):
        def seed_tree(self):
            return self._tree({"skill.txt": b""})

    run_id, _, _ = _run(archive, tmp_path, mutation="experience", steps_cls=SolvesNothing)
    _seed, child = archive.list_candidates(run_id)
    record = archive.get_candidate(child.id)
    assert "mutation" not in record.meta and "notes.txt" in archive.blobs.files(record.tree_hash)
    assert record.meta["experience"].startswith("no solved dev task")


def test_held_examples_are_not_credited_when_ranking(archive, tmp_path):
    """A child that solves only the tasks it holds examples of solved nothing new."""

    class OnlyHeld(ExperienceSteps):
        def evaluate(self, candidate, tasks):
            files = self.archive.blobs.files(candidate.tree_hash)
            held = held_tasks(files, DEV)
            skills = set(files.get("skill.txt", b"").decode().split())
            return [
                (Score(score=float(ok), passed=ok), {"log": trajectory_log(t.statement, SOLVING)})
                for t in tasks
                for ok in [t.id in (held or skills)]
            ]

    run_id, _, _ = _run(archive, tmp_path, steps_cls=OnlyHeld, experience={"children": 1})
    _seed, child = archive.list_candidates(run_id)
    record = archive.get_candidate(child.id)
    assert record.status == "rejected"
    assert record.rejection_reason == "solved no task besides the 2 it holds examples of"
