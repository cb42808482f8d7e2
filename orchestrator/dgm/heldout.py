"""Held-out scoring: a finished run's best candidate against its seed, on the test split.

Selection, admission, diagnosis and the experience store read the dev split only (see
:mod:`.ledger` and :mod:`.experience`). Once a run is over, :func:`best_candidate` picks
the best admitted candidate by the run's own score rule on the dev split, and
:func:`score_on_split` scores it and the seed on the same test tasks, with the same
evaluator, options, models and agent limits; the evaluations are recorded in the
archive under the ``test`` split, so they can be inspected and a killed scoring resumes.
:func:`paired_bootstrap` then gives the interval of the paired gain, and :func:`sign_test`
the exact chance of the tasks won against those lost.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .admission import best_of
from .config import EvaluationConfig, RunConfig, Stage
from .experience import held_tasks
from .ledger import Ledger, RecordedSplit, evaluate_in_stages

if TYPE_CHECKING:
    from clade.archive.facade import Archive
    from clade.archive.tables import Candidate
    from clade.orchestrator.evaluators.base import Evaluator, Task

    from .protocol import Steps


def best_candidate(archive: Archive, run_id: str, config: RunConfig, evaluator: Evaluator) -> str:
    """The run's best admitted candidate, by the run's score rule (``selection.score``) on
    its selection split, not crediting tasks a candidate holds worked examples of; ties go
    to the candidate with more evaluations, then the earlier one."""
    admitted = {c.id: c for c in archive.list_candidates(run_id) if c.status == "admitted"}
    dev = evaluator.tasks("dev")

    def held(candidate_id: str) -> set[str]:
        if candidate_id not in admitted:
            return set()  # never a best: no need to read its tree
        return held_tasks(archive.blobs.files(admitted[candidate_id].tree_hash), dev)

    ledger = Ledger(archive, evaluator.name, config.evaluation.split)
    tallies = {
        cid: t for cid, t in ledger.tallies(run_id, held).items() if cid in admitted
    }  # fmt: skip
    return best_of(tallies, config.selection.score, config.selection.confidence)


def score_on_split(
    archive: Archive,
    steps: Steps,
    evaluator: Evaluator,
    candidate: Candidate,
    tasks: list[Task],
    split: RecordedSplit = "test",
) -> list[float]:
    """Score ``candidate`` once on each of ``tasks`` (recorded under ``split``; attempts
    already recorded are not redone); returns the scores in task order."""
    ledger = Ledger(archive, evaluator.name, split)
    # The ledger records under ``split``; the stages' own split is not read.
    evaluation = EvaluationConfig(
        evaluator=evaluator.name, stages=[Stage(tasks=len(tasks))], attempts=1
    )
    evaluate_in_stages(ledger, steps, candidate, tasks, evaluation, lambda event: None)
    done = ledger.attempts(candidate)
    return [done[(t.id, 0)] for t in tasks]


def paired_bootstrap(
    before: Sequence[float],
    after: Sequence[float],
    *,
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
) -> tuple[float, float]:
    """The percentile bootstrap interval of the mean paired gain ``after - before``.

    Tasks are resampled with replacement and both scores of a task move together, so the
    interval reflects how much the gain depends on which tasks were drawn, with the
    difficulty each task has for both candidates cancelled out."""
    gains = [b - a for a, b in zip(before, after, strict=True)]
    if not gains:
        raise ValueError("no paired scores")
    n, rng = len(gains), random.Random(seed)
    means = sorted(sum(rng.choices(gains, k=n)) / n for _ in range(resamples))
    tail = (1 - confidence) / 2
    low = means[int(tail * resamples)]
    high = means[min(resamples - 1, int((1 - tail) * resamples))]
    return low, high


def sign_test(before: Sequence[float], after: Sequence[float]) -> float:
    """The exact one-sided sign test of ``after > before``: the chance of at least as many
    tasks won (of the tasks where the two differ) if winning and losing were equally likely.

    The bootstrap interval alone is lenient when few tasks differ: 3 won and none lost of 20
    puts its 95% lower end above 0 (a resample misses all three wins with chance 0.85^20 =
    0.04), while the sign test says p = 1/8."""
    wins = sum(b > a for a, b in zip(before, after, strict=True))
    losses = sum(b < a for a, b in zip(before, after, strict=True))
    n = wins + losses
    if n == 0:
        return 1.0
    return sum(math.comb(n, k) for k in range(wins, n + 1)) / 2**n
