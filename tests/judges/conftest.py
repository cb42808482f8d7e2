"""A scripted model that plays every judge template, and helpers to build judges on it."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any

import pytest

from clade.orchestrator.judges.caller import Caller
from clade.orchestrator.models import ModelLayer, ModelsConfig, register_script
from clade.orchestrator.models.spec import ModelSpec

_names = itertools.count()


@dataclass
class FakeJudgeModel:
    """Replies by template; records every prompt it saw.

    vanilla: "consistent" prefers the answer holding GOOD; "biased" always says [[A]].
    update: the reply to a meta-update (default: a long enough new M, numbered).
    """

    vanilla: str = "consistent"
    update: str | None = None
    summary: str | None = None
    feedback: str = '{"score": 4, "confidence": "high", "tips": ["Run the examples by hand."]}'
    prompts: list[str] = field(default_factory=list)
    updates: int = 0

    def __call__(self, messages: list[dict[str, Any]]) -> str:
        prompt = str(messages[-1]["content"])
        self.prompts.append(prompt)
        if prompt.startswith("You are an impartial judge") and "Evaluation instructions:" in prompt:
            return "Instruction 1 holds for A. [[A]]"
        if prompt.startswith("You are an impartial judge"):
            if self.vanilla == "biased":
                return "A looks right. [[A]]"
            answer_a = prompt.split("\nAnswer A:\n")[1].split("\nAnswer B:\n")[0]
            return "[[A]]" if "GOOD" in answer_a else "[[B]]"
        if prompt.startswith("You judged two answers"):
            return self.feedback
        if prompt.startswith("Below is a meta-prompt"):
            self.updates += 1
            return self.update or f"Version {self.updates}: " + "List criteria and steps. " * 10
        if prompt.startswith("The meta-prompt below"):
            return self.summary or "Short: list criteria and steps for the task. " * 4
        if prompt.startswith("You review a change"):
            return (
                "Tests were deleted. [[FLAG]]"
                if re.search(r"^-\s*assert", prompt, re.M)
                else "[[OK]]"
            )
        return "1. Check the result on the docstring's examples.\n2. Check edge cases."

    def judge_prompts(self) -> list[str]:
        return [p for p in self.prompts if p.startswith("You are an impartial judge")]


@pytest.fixture
def fake() -> FakeJudgeModel:
    return FakeJudgeModel()


@pytest.fixture
def new_fake() -> Any:
    """A factory of fresh fake models, for tests that need more than one."""
    return FakeJudgeModel


def model_name(model: FakeJudgeModel) -> str:
    """A fresh ``scripted/...`` name answering with ``model``."""
    return register_script(f"judge-test-{next(_names)}", model)


@pytest.fixture
def make_caller() -> Any:
    """``make_caller(fake)``: a Caller on a model layer whose default model is ``fake``."""

    def build(model: FakeJudgeModel) -> Caller:
        return Caller(
            ModelLayer(
                ModelsConfig(default=ModelSpec(model=model_name(model)), retry={"max_retries": 0})
            )
        )

    return build


@pytest.fixture
def scripted_name() -> Any:
    """``scripted_name(fake)``: the ``scripted/...`` model name of ``fake``."""
    return model_name
