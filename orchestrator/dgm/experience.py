"""The experience mutation: a child that carries the run's own solved dev tasks as worked
examples.

Small models copy a demonstrated tool pattern far more reliably than they follow a
description of it (SmolLM2-135M: 0/20 -> 10/20 on a sorting task with 3 worked examples).
So besides rewriting its code, an agent can improve by learning from its own successes:
the child is the parent's tree plus ``coder/experience.jsonl``, one worked example per line
(``{"task": ..., "turns": [{"assistant": ..., "observation": ...}, ...]}``), which the
agent puts into its chat before the real task. The child is recorded with its diff like
any other, so ``clade archive diff`` shows exactly which examples it gained.

Split discipline: examples come only from evaluations recorded on the **dev** split whose
task is a dev task of the run's evaluator; the test split never reaches the store.
"""

from __future__ import annotations

import json
import random
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field, ValidationError

from clade.orchestrator.evaluators.base import Task, split_of

if TYPE_CHECKING:
    from clade.archive.facade import Archive

#: Where the agent reads its worked examples, inside its tree.
EXPERIENCE_FILE = "coder/experience.jsonl"
#: Characters of one reply and one observation kept in an example.
REPLY_CHARS = 1_500
OBSERVATION_CHARS = 800


class Turn(BaseModel):
    assistant: str = Field(description="The agent's reply (its action).")
    observation: str = Field(default="", description="What the action returned.")


class Example(BaseModel):
    """One worked example: a solved dev task and the turns that solved it."""

    task: str = Field(description="The task statement as the agent was given it.")
    turns: list[Turn] = Field(min_length=1, description="Replies and their results, in order.")

    def line(self) -> str:
        return json.dumps(self.model_dump(), ensure_ascii=False)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + " [...]"


def parse_turns(log: str) -> list[Turn] | None:
    """The turns of an evaluation log's trajectory (the agent's JSON-lines steps), or None
    when the trajectory is incomplete (its start was cut off, a step is missing).
    Malformed replies (steps with no action) are left out: they are not worth copying."""
    _, sep, trajectory = log.partition("trajectory:\n")
    if not sep:
        return None
    turns: list[Turn] = []
    started, steps = False, 0
    for line in trajectory.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if not isinstance(event, dict):
            continue
        if event.get("event") == "start":
            started, turns, steps = True, [], 0
        elif event.get("event") == "step" and isinstance(event.get("reply"), str):
            steps += 1
            if event.get("step") != steps:
                return None
            if event.get("action") is None:
                continue  # a malformed reply: not something to demonstrate
            observation = event.get("observation") or ""
            turns.append(
                Turn(
                    assistant=_clip(event["reply"].strip(), REPLY_CHARS),
                    observation=_clip(str(observation), OBSERVATION_CHARS),
                )
            )
    return turns if started and turns else None


def solved_dev_examples(
    archive: Archive, run_id: str, evaluator: str, dev_tasks: Sequence[Task]
) -> list[tuple[str, Example]]:
    """(task id, example) for every dev task some candidate of the run solved, one per task,
    best first: fewest turns, then shortest, then by task id.

    Only rows recorded on the dev split count, and only tasks that are dev tasks of the
    evaluator (by its own list and by :func:`split_of`), so no test task can slip in."""
    statements = {t.id: t.statement for t in dev_tasks if split_of(t.id) == "dev"}
    best: dict[str, tuple[tuple[int, int], Example]] = {}
    for row in archive.attempt_rows(run_id, evaluator, "dev", passed_only=True):
        if row.task_id not in statements or row.log_hash is None or row.score < 1.0:
            continue
        turns = parse_turns(archive.get_log(row.log_hash))
        if turns is None:
            continue
        example = Example(task=statements[row.task_id], turns=turns)
        rank = (len(turns), len(example.line()))
        if row.task_id not in best or rank < best[row.task_id][0]:
            best[row.task_id] = (rank, example)
    ordered = sorted(best.items(), key=lambda item: (item[1][0], item[0]))
    return [(task_id, example) for task_id, (_, example) in ordered]


def read_examples(files: Mapping[str, bytes]) -> list[Example]:
    """The worked examples a tree already holds (invalid lines are dropped)."""
    examples = []
    for line in files.get(EXPERIENCE_FILE, b"").decode("utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            examples.append(Example.model_validate_json(line))
        except ValidationError:
            continue
    return examples


def held_tasks(files: Mapping[str, bytes], dev_tasks: Sequence[Task]) -> set[str]:
    """The ids of the dev tasks whose worked example a tree holds (matched by statement).

    A candidate is not credited on these tasks when it is ranked (see :mod:`.ledger`):
    its prompt holds their solution, so solving them again shows nothing."""
    statements = {e.task for e in read_examples(files)}
    return {t.id for t in dev_tasks if t.statement in statements}


def with_experience(
    files: Mapping[str, bytes],
    solved: Sequence[tuple[str, Example]],
    *,
    examples: int,
    max_chars: int,
    rng: random.Random | None = None,
) -> tuple[dict[str, bytes], list[str]] | None:
    """The parent's ``files`` with worked examples added to ``coder/experience.jsonl``:
    (the child's files, the task ids added), or None when there is nothing new to add.

    Examples the parent holds stay first; new ones fill the file up to ``examples`` and
    ``max_chars``: the best ones, or with ``rng`` a draw from the best few (so siblings
    get different sets)."""
    held = read_examples(files)
    known = {e.task for e in held}
    fresh = [(task_id, e) for task_id, e in solved if e.task not in known]
    room = examples - len(held)
    if room <= 0 or not fresh:
        return None
    pool = fresh[: 2 * room]
    picks = list(range(len(pool)))
    if rng is not None:
        picks = sorted(rng.sample(picks, min(room, len(pool))))
    lines = [e.line() for e in held]
    added: list[str] = []
    size = sum(len(line) + 1 for line in lines)
    for index in picks:
        if len(added) >= room:
            break
        task_id, example = pool[index]
        line = example.line()
        if size + len(line) + 1 > max_chars:
            continue
        lines.append(line)
        added.append(task_id)
        size += len(line) + 1
    if not added:
        return None
    child = dict(files)
    child[EXPERIENCE_FILE] = ("\n".join(lines) + "\n").encode()
    return child, added


def experience_tree(
    archive: Archive,
    run_id: str,
    evaluator: str,
    dev_tasks: Sequence[Task],
    parent_tree: str,
    *,
    examples: int,
    max_chars: int,
    rng: random.Random | None = None,
) -> tuple[str, list[str]] | None:
    """The experience mutation of a parent: (the child's stored tree, the dev task ids it
    gained), or None when the run has solved no dev task the parent does not hold yet."""
    solved = solved_dev_examples(archive, run_id, evaluator, dev_tasks)
    made = with_experience(
        archive.blobs.files(parent_tree), solved, examples=examples, max_chars=max_chars, rng=rng
    )
    if made is None:
        return None
    files, added = made
    return store_tree(archive, files), added


def store_tree(archive: Archive, files: Mapping[str, bytes]) -> str:
    """Put a tree given as files into the archive's blob store; returns its hash."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for relative, data in files.items():
            target = root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        return archive.put_tree(root)
