"""Tasks generated locally, scored on the host from the agent's ``answer.txt``.

- ``game24``: every solvable set of four numbers from 1 to 13; the answer is an
  arithmetic expression that uses each number exactly once and equals 24 (within 1e-6).
- ``word-sorting``: sort a list of words alphabetically; exact match after normalising.
- ``multistep-arithmetic``: evaluate a nested integer expression; exact match.

Answers are plain text, so scoring needs no sandbox: expressions are parsed with ``ast``
and only numbers, + - * / and parentheses are accepted.
"""

from __future__ import annotations

import ast
import itertools
import random
from collections import Counter
from collections.abc import Mapping
from fractions import Fraction
from functools import cache

from pydantic import BaseModel, ConfigDict, Field

from .base import Grader, Score, Split, Task, split_of

ANSWER = "answer.txt"
_ANSWER_NOTE = f"\nWrite only the final answer to the file {ANSWER} in the work directory."


def _answer(outputs: Mapping[str, str]) -> str | None:
    text = outputs.get(ANSWER)
    return None if text is None else text.strip()


def _missing() -> Score:
    return Score(score=0.0, passed=False, detail=f"{ANSWER} is missing")


# -- Game of 24 -------------------------------------------------------------------------
@cache
def _reaches_24(numbers: tuple[float, ...]) -> bool:
    """Whether the numbers (a sorted tuple) make 24 with + - * /, each used exactly once.

    Floats with a tolerance: for four numbers up to 13 no rounding error comes near it,
    and the search is ten times faster than with fractions."""
    if len(numbers) == 1:
        return abs(numbers[0] - 24) < 1e-6
    for i, j in itertools.combinations(range(len(numbers)), 2):
        rest = [n for k, n in enumerate(numbers) if k not in (i, j)]
        a, b = numbers[i], numbers[j]
        results = (
            {a + b, a - b, b - a, a * b} | ({a / b} if b else set()) | ({b / a} if a else set())
        )
        if any(_reaches_24(tuple(sorted([*rest, r]))) for r in results):
            return True
    return False


@cache
def solvable_24() -> list[tuple[int, ...]]:
    """Every multiset of four numbers in 1..13 that can make 24 (sorted, ascending)."""
    hands = itertools.combinations_with_replacement(range(1, 14), 4)
    return [hand for hand in hands if _reaches_24(tuple(map(float, hand)))]


def _evaluate(node: ast.AST, unary: bool = False) -> Fraction:
    """The exact value of an arithmetic expression; ``unary`` allows a leading minus sign."""
    if isinstance(node, ast.Expression):
        return _evaluate(node.body, unary)
    if (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int)
        and not isinstance(node.value, bool)
    ):
        return Fraction(node.value)
    if unary and isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _evaluate(node.operand, unary)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub | ast.Mult | ast.Div):
        left, right = _evaluate(node.left, unary), _evaluate(node.right, unary)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        if right == 0:
            raise ValueError("division by zero")
        return left / right
    raise ValueError(
        f"only numbers, + - * / and parentheses are allowed, not {type(node).__name__}"
    )


def check_24(expression: str, numbers: tuple[int, ...]) -> Score:
    expression = expression.replace("×", "*").replace("÷", "/").split("=")[0].strip()
    try:
        tree = ast.parse(expression, mode="eval")
        value = _evaluate(tree)
    except (SyntaxError, ValueError) as exc:
        return Score(score=0.0, passed=False, detail=f"not a valid expression: {exc}")
    used = Counter(
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, int)
    )
    if used != Counter(numbers):
        return Score(
            score=0.0, passed=False, detail=f"uses {sorted(used.elements())}, not {list(numbers)}"
        )
    if abs(float(value) - 24) > 1e-6:
        return Score(score=0.0, passed=False, detail=f"equals {float(value):g}, not 24")
    return Score(score=1.0, passed=True)


class Game24:
    """Every solvable hand of four numbers from 1 to 13 (1362), split half/half by id."""

    name = "game24"

    class Config(BaseModel):
        """``game24`` has no options: its tasks are every solvable hand."""

        model_config = ConfigDict(extra="forbid")

    def __init__(self, config: Config | None = None) -> None:
        self.config = config if config is not None else self.Config()

    def tasks(self, split: Split) -> list[Task]:
        tasks = []
        for numbers in solvable_24():
            task_id = "24-" + "-".join(map(str, numbers))
            if split_of(task_id) == split:
                statement = f"Use the numbers {' '.join(map(str, numbers))} each exactly once with + - * / and parentheses to make 24."
                tasks.append(Task(id=task_id, statement=statement + _ANSWER_NOTE))
        return tasks

    def score(self, task: Task, outputs: Mapping[str, str], grader: Grader) -> Score:
        answer = _answer(outputs)
        if answer is None:
            return _missing()
        return check_24(answer, tuple(int(n) for n in task.id.split("-")[1:]))


# -- seeded text tasks ------------------------------------------------------------------
_SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "te", "vo", "zu", "pi", "da", "fe", "go", "hu", "ji", "ba"]  # fmt: skip


class _Seeded:
    """Tasks generated from ``seed``; the expected answer is recomputed from the task id."""

    name = ""
    prefix = ""

    class Config(BaseModel):
        """Options of a seeded text evaluator."""

        model_config = ConfigDict(extra="forbid")

        n: int = Field(
            default=100, ge=1, le=100_000, description="Tasks generated, over both splits."
        )
        seed: int = Field(
            default=0, description="Seed of the generator: another seed, other tasks."
        )

    def __init__(self, config: Config | None = None, **options: int) -> None:
        self.config = config if config is not None else self.Config.model_validate(options)
        self.n, self.seed = self.config.n, self.config.seed

    def _rng(self, index: int) -> random.Random:
        return random.Random(f"{self.name}:{self.seed}:{index}")

    def tasks(self, split: Split) -> list[Task]:
        tasks = []
        for index in range(self.n):
            task_id = f"{self.prefix}-{self.seed}-{index}"
            if split_of(task_id) == split:
                tasks.append(
                    Task(id=task_id, statement=self.statement(self._rng(index)) + _ANSWER_NOTE)
                )
        return tasks

    def score(self, task: Task, outputs: Mapping[str, str], grader: Grader) -> Score:
        answer = _answer(outputs)
        if answer is None:
            return _missing()
        expected = self.expected(self._rng(int(task.id.rsplit("-", 1)[1])))
        got = " ".join(answer.lower().replace(",", " ").split())
        if got == expected:
            return Score(score=1.0, passed=True)
        return Score(score=0.0, passed=False, detail=f"expected {expected!r}, got {got[:200]!r}")

    def statement(self, rng: random.Random) -> str:
        raise NotImplementedError

    def expected(self, rng: random.Random) -> str:
        raise NotImplementedError


class WordSorting(_Seeded):
    name, prefix = "word-sorting", "words"

    def _words(self, rng: random.Random) -> list[str]:
        return [
            "".join(rng.choices(_SYLLABLES, k=rng.randint(1, 3))) for _ in range(rng.randint(5, 12))
        ]

    def statement(self, rng: random.Random) -> str:
        return "Sort these words alphabetically, separated by single spaces: " + " ".join(
            self._words(rng)
        )

    def expected(self, rng: random.Random) -> str:
        return " ".join(sorted(self._words(rng)))


class MultistepArithmetic(_Seeded):
    name, prefix = "multistep-arithmetic", "arith"

    def _expression(self, rng: random.Random, depth: int = 2) -> str:
        if depth == 0:
            return str(rng.randint(-9, 9))
        op = rng.choice("+-*")
        return f"({self._expression(rng, depth - 1)} {op} {self._expression(rng, depth - 1)})"

    def statement(self, rng: random.Random) -> str:
        return f"Compute {self._expression(rng)[1:-1]}. Answer with the integer only."

    def expected(self, rng: random.Random) -> str:
        return str(_evaluate(ast.parse(self._expression(rng), mode="eval"), unary=True))
