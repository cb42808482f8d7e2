"""A complete Clade evaluator: name the capital of a country.

An evaluator is any class with a ``name``, ``tasks(split)`` and ``score(task, outputs,
grader)``. Its options (the run config's ``evaluation.options``, or ``clade eval -o KEY=VALUE``)
are declared in a nested pydantic ``Config``: Clade validates them against it, reports a bad
or unknown option by name, shows the fields in ``clade evaluators show capitals``, and hands
the constructor one ``Config`` instance (or nothing, for the defaults).
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from clade.orchestrator.evaluators.base import Grader, Score, Split, Task, split_of

CAPITALS = {
    "France": "Paris", "Japan": "Tokyo", "Kenya": "Nairobi", "Peru": "Lima", "Canada": "Ottawa",
    "Egypt": "Cairo", "Norway": "Oslo", "Chile": "Santiago", "India": "New Delhi", "Spain": "Madrid",
}  # fmt: skip


class Capitals:
    """Ten questions; the agent writes its answer to answer.txt."""

    name = "capitals"

    class Config(BaseModel):
        """Options of ``capitals``; every field has a default and a description."""

        model_config = ConfigDict(extra="forbid")  # a misspelt option is an error, not ignored

        case_sensitive: bool = Field(
            default=False, description="Whether 'paris' counts as 'Paris'. False: it does."
        )

    def __init__(self, config: Config | None = None) -> None:
        self.config = config if config is not None else self.Config()
        self.case_sensitive = self.config.case_sensitive

    def tasks(self, split: Split) -> list[Task]:
        return [
            Task(
                id=country,
                statement=f"What is the capital of {country}? Write only the name to answer.txt.",
            )
            for country in CAPITALS
            if split_of(f"capitals-{country}") == split
        ]

    def score(self, task: Task, outputs: Mapping[str, str], grader: Grader) -> Score:
        # Plain-text answers are checked here; code that must run goes through `grader`,
        # which executes it in a fresh sandbox the agent never touched.
        answer = outputs.get("answer.txt", "").strip()
        expected = CAPITALS[task.id]
        same = answer == expected if self.case_sensitive else answer.lower() == expected.lower()
        return Score(
            score=float(same),
            passed=same,
            detail="" if same else f"expected {expected}, got {answer[:50]!r}",
        )
