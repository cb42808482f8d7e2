"""Verdict parsing, swapping, and the vanilla judge's invalid outputs."""

from __future__ import annotations

import pytest

from clade.orchestrator.judges import Pair, flip, parse_verdict
from clade.orchestrator.judges.vanilla import VanillaJudge


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Reasoning... [[A]]", "A"),
        ("[[ B ]]", "B"),
        ("[[A]] on reflection [[A]]", "A"),
        ("[[A]] or maybe [[B]]", None),
        ("A is better", None),
        ("", None),
        ("[A]", None),
        ('{"verdict": "[[B]]", "reason": "unlike [[A]], it adds"}', "B"),  # the field decides
        ('{"verdict": "A", "reason": "[[A]]"}', None),
        ('{"verdict": "[[A]]", "reason": "cut sho', "A"),  # max_tokens ended the JSON
    ],
)
def test_parse_verdict_accepts_exactly_one_marker(text, expected):
    assert parse_verdict(text) == expected


def test_flip_and_swapped_pair():
    assert (flip("A"), flip("B"), flip(None)) == ("B", "A", None)
    pair = Pair(question="q", answer_a="x", answer_b="y", label="A")
    swapped = pair.swapped()
    assert (swapped.answer_a, swapped.answer_b, swapped.label) == ("y", "x", "B")


def test_vanilla_invalid_outputs_give_no_verdict(fake, make_caller):
    fake.vanilla = "consistent"
    judge = VanillaJudge(make_caller(fake))
    good = judge.judge("1", "q", "GOOD", "bad")
    assert (good.verdict, good.calls, good.path) == ("A", 1, "vanilla")
    assert good.tokens > 0
    for reply in ("[[A]] [[B]]", "no verdict at all"):
        both = VanillaJudge(make_caller(_Fixed(reply)))
        decision = both.judge("1", "q", "GOOD", "bad")
        assert decision.verdict is None
        assert decision.steps[0]["output"] == reply


class _Fixed:
    def __init__(self, reply: str) -> None:
        self.reply = reply

    def __call__(self, messages):
        return self.reply


@pytest.mark.slow
def test_the_embedded_model_gives_a_valid_verdict_under_the_verdict_grammar():
    from clade.orchestrator.judges.caller import Caller
    from clade.orchestrator.models import ModelLayer, ModelsConfig

    judge = VanillaJudge(Caller(ModelLayer(ModelsConfig())))
    for a, b in (("return a + b", "return a - b"), ("return a - b", "return a + b")):
        decision = judge.judge("add", "Write add(a, b) returning the sum.", a, b)
        assert decision.verdict in ("A", "B"), decision.steps
