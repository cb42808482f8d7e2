"""Parent selection policies for the open-ended archive.

Each policy turns the archive's admitted candidates into sampling weights and draws ``k``
parents with replacement (as the Darwin Gödel Machine does). The weights are a pure
function of the nodes, so every policy is tested on hand-computed cases.

- ``score_child_prop``: sigmoid(10 (score - 0.5)) x 1 / (1 + children) (DGM default);
- ``score_prop``: proportional to score (uniform when every score is 0);
- ``random``: uniform;
- ``best``: always the best score (ties: the earliest);
- ``cmp_thompson``: Thompson sampling on clade-metaproductivity as in the Huxley-Gödel
  machine: each node draws from Beta(tau (1 + s), tau (1 + f)), where s and f are the
  successes and failures pooled over its whole subtree, and the highest draw wins.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

PolicyName = Literal["score_child_prop", "score_prop", "random", "best", "cmp_thompson"]


@dataclass(frozen=True)
class Node:
    """What selection needs to know of one admitted candidate."""

    id: str
    score: float
    children: int = 0
    clade_successes: int = 0
    clade_failures: int = 0


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def score_child_weights(
    nodes: Sequence[Node], steepness: float = 10.0, midpoint: float = 0.5
) -> list[float]:
    raw = [_sigmoid(steepness * (n.score - midpoint)) / (1 + n.children) for n in nodes]
    return _normalise(raw)


def score_weights(nodes: Sequence[Node]) -> list[float]:
    return _normalise([max(n.score, 0.0) for n in nodes])


def uniform_weights(nodes: Sequence[Node]) -> list[float]:
    return _normalise([1.0] * len(nodes))


def _normalise(raw: list[float]) -> list[float]:
    total = sum(raw)
    if total <= 0:
        return [1.0 / len(raw)] * len(raw)
    return [w / total for w in raw]


def best_node(nodes: Sequence[Node]) -> Node:
    # max() keeps the first of equal scores: ties go to the earliest candidate.
    return max(nodes, key=lambda n: n.score)


def thompson_pick(nodes: Sequence[Node], rng: random.Random, tau: float = 1.0) -> Node:
    draws = [
        rng.betavariate(tau * (1 + n.clade_successes), tau * (1 + n.clade_failures)) for n in nodes
    ]
    return nodes[max(range(len(nodes)), key=draws.__getitem__)]


_WEIGHTS: dict[str, Callable[[Sequence[Node]], list[float]]] = {
    "score_child_prop": score_child_weights,
    "score_prop": score_weights,
    "random": uniform_weights,
}


def select_parents(
    policy: PolicyName, nodes: Sequence[Node], k: int, rng: random.Random
) -> list[str]:
    """Draw ``k`` parent ids (with replacement) from ``nodes`` by ``policy``."""
    if not nodes:
        raise ValueError("no admitted candidate to select a parent from")
    if policy == "best":
        return [best_node(nodes).id] * k
    if policy == "cmp_thompson":
        return [thompson_pick(nodes, rng).id for _ in range(k)]
    if policy not in _WEIGHTS:
        raise ValueError(
            f"unknown selection policy {policy!r}; choose one of {sorted([*_WEIGHTS, 'best', 'cmp_thompson'])}"
        )
    weights = _WEIGHTS[policy](nodes)
    return [n.id for n in rng.choices(list(nodes), weights=weights, k=k)]
