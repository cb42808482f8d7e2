"""Noise-aware scores: a candidate's dev evaluations as a tally, and a confidence bound.

One mean over a few tasks is a noisy figure: a child that solves 2 of 3 tasks by luck
looks better than a parent that solved 30 of 60. The Darwin Gödel Machine admits and
selects on such single means with fixed thresholds. Here every recorded attempt of every
dev task counts (see the run option ``evaluation.attempts``), and with the run option
``selection.score: lower_bound`` a candidate is ranked by the lower end of a Wilson score
interval on its mean, so few lucky evaluations weigh less than many good ones:

- selection policies see that bound as the candidate's score;
- with ``selection.keep_better`` a child is admitted only if its bound beats its parent's mean;
- the run's best candidate is the one with the highest bound.

With ``selection.score: mean`` (the default) all three use the plain mean, as before.
The Wilson interval treats the sum of scores as successes, which is exact for pass/fail
scores and a close approximation for scores between 0 and 1.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

ScoreRule = Literal["mean", "lower_bound"]


@dataclass(frozen=True)
class Tally:
    """A candidate's recorded evaluations on one evaluator and split: the sum and count."""

    total: float = 0.0
    n: int = 0
    passed: int = 0

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else 0.0

    def add(self, score: float, passed: bool) -> Tally:
        return Tally(self.total + score, self.n + 1, self.passed + int(passed))


def tally(rows: Iterable[tuple[float, bool]]) -> Tally:
    result = Tally()
    for score, passed in rows:
        result = result.add(score, passed)
    return result


def z_value(confidence: float) -> float:
    """The two-sided normal quantile of ``confidence`` (0.9 -> 1.645, 0.95 -> 1.960)."""
    return NormalDist().inv_cdf(1 - (1 - confidence) / 2)


def wilson_bounds(total: float, n: int, confidence: float = 0.9) -> tuple[float, float]:
    """The Wilson score interval of a mean of ``n`` scores in [0, 1] summing to ``total``.

    No evaluations at all give the whole range (0, 1)."""
    if n <= 0:
        return 0.0, 1.0
    z = z_value(confidence)
    p = min(max(total / n, 0.0), 1.0)
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def rank_score(t: Tally, rule: ScoreRule, confidence: float = 0.9) -> float:
    """What selection sees of a tally: its mean, or the lower end of its interval."""
    if rule == "mean":
        return t.mean
    return wilson_bounds(t.total, t.n, confidence)[0]


def beats_parent(child: Tally, parent: Tally, rule: ScoreRule, confidence: float = 0.9) -> bool:
    """Whether ``child`` is better than ``parent``: its mean (or its lower bound) is above
    the parent's mean. A child lucky on few tasks has a low bound and does not pass."""
    return rank_score(child, rule, confidence) > parent.mean


def best_of(tallies: dict[str, Tally], rule: ScoreRule, confidence: float = 0.9) -> str:
    """The id with the highest rank score; ties go to the most evaluations, then the
    earliest id (ids sort by creation time)."""
    if not tallies:
        raise ValueError("no evaluated candidate")
    return min(tallies, key=lambda c: (-rank_score(tallies[c], rule, confidence), -tallies[c].n, c))
