"""Tasks generated locally, scored on the host from the agent's ``answer.txt``.

- ``game24``: every solvable hand of ``numbers`` numbers from 1 to ``max_number`` (default:
  four from 1 to 13, 1362 hands); the answer is an arithmetic expression that uses each
  number exactly once and equals 24 exactly.
- ``word-sorting``: sort a list of ``min_words``..``max_words`` made-up words; exact match
  after normalising case, commas and spaces.
- ``multistep-arithmetic``: evaluate a nested integer expression ``depth`` levels deep;
  exact match.

The size options are difficulty levels: smaller hands, fewer words or shallower
expressions give a small model a seed that solves some tasks, so selection has a gradient.
Defaults are the standard tasks. Answers are untrusted plain text read on the host, so
reading and parsing are bounded (see :mod:`.answers`).
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Mapping
from functools import cache

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .answers import ANSWER, WrongAnswer, clip, constants, evaluate, parse_expression, read_answer
from .base import Grader, Score, Split, Task, split_of

_ANSWER_NOTE = f"\nWrite only the final answer to the file {ANSWER} in the work directory."


def _wrong(detail: str) -> Score:
    return Score(score=0.0, passed=False, detail=clip(detail, 400))


# -- Game of 24 -------------------------------------------------------------------------
@cache
def _reaches_24(numbers: tuple[float, ...]) -> bool:
    """Whether the numbers (a sorted tuple) make 24 with + - * /, each used exactly once.

    Floats with a tolerance: for hands this small no rounding error comes near it, and
    the search is ten times faster than with fractions."""
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
def solvable_24(numbers: int = 4, max_number: int = 13) -> list[tuple[int, ...]]:
    """Every multiset of ``numbers`` numbers in 1..``max_number`` that can make 24 (sorted)."""
    hands = itertools.combinations_with_replacement(range(1, max_number + 1), numbers)
    return [hand for hand in hands if _reaches_24(tuple(map(float, hand)))]


def check_24(expression: str, numbers: tuple[int, ...]) -> Score:
    """Score an expression for a hand: each number once, + - * / and parentheses, exactly 24.

    The numbers are checked before the expression is evaluated, so the exact arithmetic
    only ever sees the hand's few small numbers."""
    expression = expression.replace("×", "*").replace("÷", "/").split("=")[0].strip()
    try:
        tree = parse_expression(expression)
        used = constants(tree)
        if Counter(used) != Counter(numbers):
            return _wrong(f"uses {clip(str(sorted(used)), 80)}, not {list(numbers)}")
        value = evaluate(tree)
    except WrongAnswer as exc:
        return _wrong(f"not a valid expression: {exc}")
    if value != 24:
        return _wrong(f"equals {float(value):g}, not 24")
    return Score(score=1.0, passed=True)


class Game24:
    """Every solvable hand of ``numbers`` numbers from 1 to ``max_number``, split by id."""

    name = "game24"

    class Config(BaseModel):
        """Hand size and range (difficulty); the defaults are the standard Game of 24."""

        model_config = ConfigDict(extra="forbid")

        numbers: int = Field(
            default=4, ge=2, le=4, description="Numbers in a hand (2 or 3 are easier levels)."
        )
        max_number: int = Field(
            default=13, ge=1, le=24, description="Largest number in a hand (1..max_number)."
        )

    def __init__(self, config: Config | None = None, **options: int) -> None:
        self.config = config if config is not None else self.Config.model_validate(options)

    def tasks(self, split: Split) -> list[Task]:
        tasks = []
        for numbers in solvable_24(self.config.numbers, self.config.max_number):
            task_id = "24-" + "-".join(map(str, numbers))
            if split_of(task_id) == split:
                statement = f"Use the numbers {' '.join(map(str, numbers))} each exactly once with + - * / and parentheses to make 24."
                tasks.append(Task(id=task_id, statement=statement + _ANSWER_NOTE))
        return tasks

    def score(self, task: Task, outputs: Mapping[str, str], grader: Grader) -> Score:
        try:
            answer = read_answer(outputs)
        except WrongAnswer as exc:
            return _wrong(str(exc))
        return check_24(answer, tuple(int(n) for n in task.id.split("-")[1:]))


# -- seeded text tasks ------------------------------------------------------------------
_SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "te", "vo", "zu", "pi", "da", "fe", "go", "hu", "ji", "ba"]  # fmt: skip


class _SeededConfig(BaseModel):
    """Options every seeded text evaluator has."""

    model_config = ConfigDict(extra="forbid")

    n: int = Field(
        default=100, ge=1, le=100_000,
        description="Tasks drawn, over both splits; a problem drawn again is kept once.",
    )  # fmt: skip
    seed: int = Field(default=0, description="Seed of the generator: another seed, other tasks.")


class _Seeded:
    """Tasks generated from ``seed``; the expected answer is recomputed from the task id."""

    name = ""
    prefix = ""
    Config: type[_SeededConfig] = _SeededConfig

    def __init__(self, config: _SeededConfig | None = None, **options: int) -> None:
        self.config = config if config is not None else self.Config.model_validate(options)
        self.n, self.seed = self.config.n, self.config.seed

    def _rng(self, index: int) -> random.Random:
        return random.Random(f"{self.name}:{self.seed}:{index}")

    def tasks(self, split: Split) -> list[Task]:
        """The split's tasks, each problem once; a test task is never a copy of a dev task.

        A small level (three one-syllable words, say) draws the same problem more than once.
        Ids are split by :func:`split_of` as everywhere, then a repeat within a split is
        dropped, and so is a test problem that the dev split also holds, so neither
        selection nor the experience store ever sees a held-out problem in other words."""
        drawn: dict[Split, dict[str, Task]] = {"dev": {}, "test": {}}
        for index in range(self.n):
            task_id = f"{self.prefix}-{self.seed}-{index}"
            problem = self.problem(self._rng(index))
            statement = self.statement(self._rng(index)) + _ANSWER_NOTE
            drawn[split_of(task_id)].setdefault(problem, Task(id=task_id, statement=statement))
        if split == "dev":
            return list(drawn["dev"].values())
        return [task for problem, task in drawn["test"].items() if problem not in drawn["dev"]]

    def score(self, task: Task, outputs: Mapping[str, str], grader: Grader) -> Score:
        try:
            answer = read_answer(outputs)
        except WrongAnswer as exc:
            return _wrong(str(exc))
        expected = self.expected(self._rng(int(task.id.rsplit("-", 1)[1])))
        got = " ".join(answer.lower().replace(",", " ").split())
        if got == expected:
            return Score(score=1.0, passed=True)
        return _wrong(f"expected {expected!r}, got {clip(got)!r}")

    def statement(self, rng: random.Random) -> str:
        raise NotImplementedError

    def problem(self, rng: random.Random) -> str:
        """What makes two tasks the same problem (the statement; word sorting: the words)."""
        return self.statement(rng)

    def expected(self, rng: random.Random) -> str:
        raise NotImplementedError


class WordSorting(_Seeded):
    name, prefix = "word-sorting", "words"

    class Config(_SeededConfig):
        """Options of ``word-sorting``; the word counts and lengths are its difficulty."""

        min_words: int = Field(default=5, ge=1, le=50, description="Fewest words in a task.")
        max_words: int = Field(default=12, ge=1, le=50, description="Most words in a task.")
        max_syllables: int = Field(
            default=3, ge=1, le=6, description="Syllables of the longest word (1..max)."
        )

        @model_validator(mode="after")
        def _range(self) -> WordSorting.Config:
            if self.min_words > self.max_words:
                raise ValueError(f"min_words {self.min_words} > max_words {self.max_words}")
            return self

    def _words(self, rng: random.Random) -> list[str]:
        c = self.config
        assert isinstance(c, WordSorting.Config)
        count = rng.randint(c.min_words, c.max_words)
        return ["".join(rng.choices(_SYLLABLES, k=rng.randint(1, c.max_syllables))) for _ in range(count)]  # fmt: skip

    def statement(self, rng: random.Random) -> str:
        return "Sort these words alphabetically, separated by single spaces: " + " ".join(
            self._words(rng)
        )

    def expected(self, rng: random.Random) -> str:
        return " ".join(sorted(self._words(rng)))

    def problem(self, rng: random.Random) -> str:
        return self.expected(rng)  # the same words in another order are the same problem


class MultistepArithmetic(_Seeded):
    name, prefix = "multistep-arithmetic", "arith"

    class Config(_SeededConfig):
        """Options of ``multistep-arithmetic``; depth and number range are its difficulty."""

        depth: int = Field(
            default=2, ge=1, le=4, description="Nesting depth: 1 is `a op b`, 2 has 4 numbers."
        )
        max_number: int = Field(
            default=9, ge=1, le=99, description="Numbers are drawn from -max_number..max_number."
        )

    def _expression(self, rng: random.Random, depth: int | None = None) -> str:
        c = self.config
        assert isinstance(c, MultistepArithmetic.Config)
        depth = c.depth if depth is None else depth
        if depth == 0:
            return str(rng.randint(-c.max_number, c.max_number))
        op = rng.choice("+-*")
        return f"({self._expression(rng, depth - 1)} {op} {self._expression(rng, depth - 1)})"

    def statement(self, rng: random.Random) -> str:
        return f"Compute {self._expression(rng)[1:-1]}. Answer with the integer only."

    def expected(self, rng: random.Random) -> str:
        return str(evaluate(parse_expression(self._expression(rng), unary=True), unary=True))
