"""Every parent-selection policy on hand-computed cases."""

from __future__ import annotations

import random
import typing
from collections import Counter

import pytest

from clade.orchestrator.dgm.selection import (
    Node,
    PolicyName,
    score_child_weights,
    score_weights,
    select_parents,
    uniform_weights,
)


def test_score_child_proportional_by_hand():
    # s = sigmoid(10 (score - 0.5)), h = 1 / (1 + children)
    # a: s = 0.5,            h = 1    -> 0.5
    # b: s = sigmoid(5),     h = 1/2  -> 0.9933071 / 2 = 0.4966536
    # c: s = sigmoid(-5),    h = 1    -> 0.0066929
    nodes = [Node("a", 0.5, 0), Node("b", 1.0, 1), Node("c", 0.0, 0)]
    total = 0.5 + 0.4966536 + 0.0066929
    assert score_child_weights(nodes) == pytest.approx(
        [0.5 / total, 0.4966536 / total, 0.0066929 / total], abs=1e-6
    )


def test_score_proportional_by_hand():
    assert score_weights([Node("a", 0.2), Node("b", 0.6), Node("c", 0.2)]) == pytest.approx(
        [0.2, 0.6, 0.2]
    )
    assert score_weights([Node("a", 0.0), Node("b", 0.0)]) == [0.5, 0.5]


def test_random_is_uniform():
    assert uniform_weights([Node(str(i), i / 10) for i in range(4)]) == [0.25] * 4


def test_best_is_the_actual_best_and_ties_go_to_the_earliest():
    nodes = [Node("a", 0.3), Node("b", 0.9), Node("c", 0.9)]
    assert select_parents("best", nodes, 3, random.Random(0)) == ["b", "b", "b"]


def test_cmp_thompson_matches_the_beta_comparison():
    # a ~ Beta(2, 1), b ~ Beta(1, 2): P(a > b) = integral of 2x * (2x - x^2) over [0, 1] = 5/6.
    nodes = [Node("a", 0.0, clade_successes=1), Node("b", 1.0, clade_failures=1)]
    picks = Counter(select_parents("cmp_thompson", nodes, 20_000, random.Random(1)))
    assert picks["a"] / 20_000 == pytest.approx(5 / 6, abs=0.01)


@pytest.mark.parametrize("policy", typing.get_args(PolicyName))
def test_every_policy_draws_k_known_ids(policy):
    nodes = [Node("a", 0.1, 2, 1, 3), Node("b", 0.8, 0, 4, 1)]
    picks = select_parents(policy, nodes, 5, random.Random(3))
    assert len(picks) == 5 and set(picks) <= {"a", "b"}


def test_sampling_follows_the_weights():
    nodes = [Node("a", 0.5, 0), Node("b", 1.0, 1), Node("c", 0.0, 0)]
    picks = Counter(select_parents("score_child_prop", nodes, 30_000, random.Random(2)))
    for node, weight in zip(nodes, score_child_weights(nodes), strict=True):
        assert picks[node.id] / 30_000 == pytest.approx(weight, abs=0.012)


def test_errors():
    with pytest.raises(ValueError, match="no admitted"):
        select_parents("random", [], 1, random.Random())
    with pytest.raises(ValueError, match="unknown selection policy"):
        select_parents("nope", [Node("a", 1.0)], 1, random.Random())  # type: ignore[arg-type]
