"""The judge family of prompt-set runs (``prompt_set.family: judge``): a judge's meta-prompt
M evolves under the DGM graph, scored against labelled gold pairs.

- ``seed_tree``: M as one file, ``meta_prompt.md`` (``prompt_set.seed``'s, or the seed of
  every learning judge, prompts/judge_meta_seed.j2);
- ``diagnose`` / ``self_modify``: the mutate role reads misjudged dev pairs (the question,
  both answers, the verdicts in both orders, which answer was right, the rubric M wrote)
  and rewrites M;
- ``evaluate``: a *frozen* judge (:class:`~clade.orchestrator.judges.drift.GoldScorer`: M
  writes the rubric, the judge applies it in both orders, no self-feedback, no update of M)
  judges each task's pair; the task scores the share of its two verdicts that pick the right
  answer, so a candidate's mean is M's gold agreement, and it passes when both do (a judge
  that follows the position scores 0.5 and never passes).

The evaluator is ``judge-gold`` (its tasks are the gold pairs, split by question). Labels
come from the evaluator and reach only the dev failures shown to the mutate role, which is
what a reflective optimiser learns from; admission by validation (``selection.admit:
validation``) is the guard against an M that copies them.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clade import prompts
from clade.archive.errors import ConfigError
from clade.orchestrator.evaluators.base import Score
from clade.orchestrator.judges.caller import Caller
from clade.orchestrator.judges.drift import GoldScorer, GoldVerdicts
from clade.orchestrator.judges.lwe import LWEConfig

from .mutate import Target, task_log
from .steps import ReflectionSteps

if TYPE_CHECKING:
    from clade.archive.tables import Candidate
    from clade.orchestrator.evaluators.base import Task
    from clade.orchestrator.judges.gold import GoldPair

META_FILE = "meta_prompt.md"
FIELD = "meta_prompt"
SUBJECT = (
    "The assistant is a judge that reads a question and two answers and says which answer "
    "is right. Before it judges, it writes a rubric for the question by following "
    "instructions called the meta-prompt."
)
DESCRIPTION = "what the judge is told when it writes a rubric for each question"
#: Characters of a rubric kept in an evaluation's log.
RUBRIC_CHARS = 1_500


def meta_prompt_of(files: dict[str, bytes]) -> str:
    """The meta-prompt in a candidate's tree."""
    if META_FILE not in files:
        raise ConfigError(
            f"the tree holds no {META_FILE}", hint="a judge prompt set is one file, meta_prompt.md"
        )
    return files[META_FILE].decode("utf-8")


def check_meta_prompt(text: str, floor_chars: int) -> str:
    """``text`` stripped; ValueError when it is shorter than an LWE judge accepts."""
    text = text.strip()
    if len(text) < floor_chars:
        raise ValueError(f"the meta-prompt has {len(text)} characters, under {floor_chars}")
    return text


def _feedback(row: GoldVerdicts, pair: GoldPair) -> tuple[str, str]:
    """The answer and the grader's line of one judged pair, for the mutate role."""

    def said(verdict: str | None) -> str:
        return f"[[{verdict}]]" if verdict else "no valid verdict"

    answer = f"{said(row.verdict)} as shown; {said(row.verdict_swapped)} with the answers swapped"
    right = sum(v == row.label for v in (row.verdict, row.verdict_swapped))
    wrong = "B" if row.label == "A" else "A"
    return answer, (
        f"answer {row.label} is right ({right} of 2 verdicts said so); answer {wrong} is "
        f"wrong: {pair.kind}"
    )


class JudgePromptSteps(ReflectionSteps):
    """The steps of a judge prompt-set run (see the module's docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        pair_of = getattr(self.evaluator, "pair", None)
        if not callable(pair_of):
            raise ConfigError(
                f"prompt_set.family judge scores meta-prompts on gold pairs; evaluator "
                f"{self.evaluator.name} has none",
                hint="set evaluation.evaluator to judge-gold",
            )
        self.pair_of: Callable[[str], GoldPair] = pair_of
        self.lwe = LWEConfig()

    def meta_prompt(self, candidate: Candidate) -> str:
        return meta_prompt_of(self.archive.blobs.files(candidate.tree_hash))

    def put(self, meta_prompt: str) -> str:
        """Store ``meta_prompt`` as a tree; returns its hash."""
        with tempfile.TemporaryDirectory(prefix="clade-judge-") as tmp:
            (Path(tmp) / META_FILE).write_text(meta_prompt.strip() + "\n", encoding="utf-8")
            return self.archive.put_tree(tmp)

    def target(self, parent: Candidate, key: str) -> Target:
        floor = self.lwe.floor_chars
        return Target(
            field=FIELD, description=DESCRIPTION, text=self.meta_prompt(parent),
            subject=SUBJECT, check=lambda text: check_meta_prompt(text, floor),
            min_chars=floor + 10,  # the check strips the text: a margin for white space
        )  # fmt: skip

    def child_tree(self, parent: Candidate, target: Target, text: str) -> str:
        return self.put(check_meta_prompt(text, self.lwe.floor_chars))

    # -- Steps protocol ----------------------------------------------------------------
    def seed_tree(self) -> str:
        seed = self.options.seed
        if seed is None:
            return self.put(prompts.render("judge_meta_seed"))
        if not (seed / META_FILE).is_file():
            raise ConfigError(
                f"prompt_set.seed: {seed} holds no {META_FILE}",
                hint="a judge's seed folder holds its meta-prompt as meta_prompt.md",
            )
        return self.put((seed / META_FILE).read_text(encoding="utf-8"))

    def evaluate(
        self, candidate: Candidate, tasks: list[Task]
    ) -> list[tuple[Score, dict[str, Any]]]:
        if not tasks:
            return []
        started = time.monotonic()
        pairs = [self.pair_of(task.id) for task in tasks]
        caller = Caller(self.layer, run_id=self.run_id, candidate_id=candidate.id)
        scorer = GoldScorer(
            pairs, caller, method=self.options.judge_method, config=self.lwe,
            workers=self.parallel,
        )  # fmt: skip
        report = scorer.score(self.meta_prompt(candidate), label=candidate.id)
        tokens, seconds = report.tokens // len(tasks), (time.monotonic() - started) / len(tasks)
        out: list[tuple[Score, dict[str, Any]]] = []
        for row, pair in zip(report.verdicts, pairs, strict=True):
            hits = (row.verdict == row.label) + (row.verdict_swapped == row.label)
            answer, feedback = _feedback(row, pair)
            rubric = row.rubric[:RUBRIC_CHARS] or "(vanilla verdicts: no rubric)"
            score = Score(score=hits / 2, passed=hits == 2, detail=feedback)
            log = task_log(answer, feedback, f"rubric M wrote:\n{rubric}")
            out.append((score, {"log": log, "tokens": tokens, "duration_s": seconds}))
        return out
