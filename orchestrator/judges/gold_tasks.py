"""The ``judge-gold`` evaluator: the gold pairs as tasks, "which of these two answers is right?".

Its main use is a prompt-set run of the judge family (``prompt_set.family: judge``,
orchestrator/promptsets/judge.py): each task is judged by a frozen judge under the
candidate meta-prompt, which reads the task's pair through :meth:`GoldTasks.pair`, and the
label stays here. An agent (or a conductor) can be scored on it as well: it writes ``A`` or
``B`` to ``answer.txt``, checked on the host.

Splits go by question, not by pair: the pairs of one question (a HumanEval problem with
several mutated solutions) share a split, so no held-out question is ever seen in dev.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from clade.archive.errors import ConfigError
from clade.orchestrator.evaluators.answers import ANSWER, WrongAnswer, clip, read_answer
from clade.orchestrator.evaluators.base import Grader, Score, Split, Task, split_of

from .gold import SOURCES, GoldPair, Source, load_gold, question_key


def statement_of(pair: GoldPair) -> str:
    """What an agent is asked: the question and the two answers (never the label)."""
    return (
        "Two answers to the question below are given; exactly one of them is right.\n\n"
        f"Question:\n{pair.question.strip()}\n\n"
        f"Answer A:\n{pair.answer_a.rstrip()}\n\n"
        f"Answer B:\n{pair.answer_b.rstrip()}\n\n"
        f"Write only the letter of the right answer, A or B, to the file {ANSWER} in the work "
        "directory."
    )


class GoldTasks:
    """Every gold pair of the chosen sources, one task each, split by question."""

    name = "judge-gold"

    class Config(BaseModel):
        """Which gold pairs, and how many questions are held out."""

        model_config = ConfigDict(extra="forbid")

        path: Path | None = Field(
            default=None,
            description="A gold JSONL file of GoldPair rows (id, question, answer_a, answer_b, "
            "label, source, kind); default: the set shipped with Clade.",
        )
        sources: list[Source] = Field(
            default_factory=lambda: list(SOURCES), min_length=1, description="Sources to keep."
        )
        test_share: float = Field(
            default=0.5, gt=0.0, lt=1.0, description="Share of questions held out for test."
        )

    def __init__(self, config: Config | None = None) -> None:
        self.config = config or self.Config()
        pairs = [p for p in load_gold(self.config.path) if p.source in self.config.sources]
        if not pairs:
            raise ConfigError(
                f"no gold pair of the sources {', '.join(self.config.sources)}",
                hint=f"choose among {', '.join(SOURCES)}",
            )
        # A stable shuffle, so that a stage's first tasks mix the sources.
        pairs.sort(key=lambda p: hashlib.sha256(p.id.encode()).hexdigest())
        self._pairs = {p.id: p for p in pairs}
        self._split = {
            p.id: split_of(question_key(p.question), self.config.test_share) for p in pairs
        }

    def tasks(self, split: Split) -> list[Task]:
        return [
            Task(id=p.id, statement=statement_of(p))
            for p in self._pairs.values()
            if self._split[p.id] == split
        ]

    def pair(self, task_id: str) -> GoldPair:
        """The labelled pair of task ``task_id`` (for the judge family's steps)."""
        try:
            return self._pairs[task_id]
        except KeyError:
            raise ConfigError(f"{self.name} has no task {task_id!r}") from None

    def score(self, task: Task, outputs: Mapping[str, str], grader: Grader) -> Score:
        try:
            answer = read_answer(outputs)
        except WrongAnswer as exc:
            return Score(score=0.0, passed=False, detail=str(exc))
        letter = answer.strip().strip(".*`'\"[]()").upper()
        label = self.pair(task.id).label
        if letter == label:
            return Score(score=1.0, passed=True)
        if letter in ("A", "B"):
            return Score(score=0.0, passed=False, detail=f"answered {letter}, the other is right")
        return Score(score=0.0, passed=False, detail=f"expected A or B, got {clip(answer)!r}")
