"""Meta-prompting against one direct call and zero-shot chain of thought, same items.

For each generated benchmark (game24, word-sorting, multistep-arithmetic) the first
``--items`` tasks of the test split are answered by each solver with the same model and
sampling (temperature 0.1, top_p 0.95): ``standard`` (one call), ``zero-shot-cot`` (one call,
"Let's think step by step"), ``conductor`` (meta-prompting with fresh-eyed experts in the
paper's text format and, unless ``--no-python``, Expert Python in a Docker sandbox) and
``conductor-structured`` (the same, each conductor turn decoded as JSON under a grammar:
expert calls or a final answer). ``--structured on|off`` runs only one of the two conductors.
Every answer is scored by the evaluator's own check. Reports accuracy, calls and tokens per
item, and for the conductors the share of turns that were well formed (held an expert call
or a final answer), the share of items answered and the experts consulted per item.

    .venv/bin/python benchmarks/conductor_vs_standard.py [--items 4] [--rounds 5]
        [--model smollm2-135m] [--max-tokens 256] [--no-python] [--structured both|on|off]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from contextlib import ExitStack
from typing import Any

from clade.orchestrator.conductor import ConductorSettings, SandboxPython
from clade.orchestrator.conductor.solvers import (
    BENCHMARKS,
    ConductorSolver,
    SolvedItem,
    Solver,
    make_solver,
    run_item,
)
from clade.orchestrator.evaluators.registry import load_evaluator
from clade.orchestrator.models.layer import ModelLayer
from clade.orchestrator.models.routing import local_engine
from clade.orchestrator.models.spec import ModelsConfig, ModelSpec


def summarise(results: list[SolvedItem], solver: str) -> dict[str, float]:
    mine = [r for r in results if r.solver == solver]
    n = max(len(mine), 1)
    return {
        "acc": sum(r.passed for r in mine) / n,
        "calls": sum(r.calls for r in mine) / n,
        "tokens": sum(r.tokens for r in mine) / n,
        "seconds": sum(r.seconds for r in mine) / n,
        "errors": sum(r.detail.startswith("error:") for r in mine),
        "well_formed": sum(r.well_formed for r in mine) / max(sum(r.turns for r in mine), 1),
        "answered": sum(r.answer is not None for r in mine) / n,
        "experts": sum(r.experts + r.code_runs for r in mine) / n,
    }


def show_step(step: dict[str, Any]) -> None:
    """One progress line per conductor turn, expert reply and code run."""
    if step["kind"] == "message" and step["role"] == "assistant":
        print(f"{'':>17}round {step['round']}: conductor wrote {len(step['content'])} chars")
    elif step["kind"] == "expert":
        print(f"{'':>17}round {step['round']}: {step['name'][:30]} replied")
    elif step["kind"] == "python":
        print(f"{'':>17}round {step['round']}: code ran (exit {step['exit_code']})")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=4, help="Items per benchmark.")
    parser.add_argument("--rounds", type=int, default=5, help="Conductor rounds allowed.")
    parser.add_argument("--model", default="smollm2-135m", help="Model of every role.")
    parser.add_argument("--max-tokens", type=int, default=256, help="Tokens per call.")
    parser.add_argument(
        "--threads", type=int, default=1,
        help="llama.cpp threads (1 is ~10x faster than all cores on a busy 2-core machine).",
    )  # fmt: skip
    parser.add_argument("--no-python", action="store_true", help="Conductor without Expert Python.")
    parser.add_argument("--benchmarks", nargs="+", default=list(BENCHMARKS), choices=BENCHMARKS)
    parser.add_argument(
        "--structured", choices=("both", "on", "off"), default="both",
        help="Conductor turns as JSON under a grammar (on), in the text format (off), or both.",
    )  # fmt: skip
    args = parser.parse_args(argv)

    options = {"n_threads": args.threads} if local_engine(args.model) == "llamacpp" else {}
    spec = ModelSpec(model=args.model, max_tokens=args.max_tokens, engine_options=options)
    layer = ModelLayer(ModelsConfig(default=spec))
    settings = ConductorSettings(rounds=args.rounds, max_tokens=args.max_tokens)
    variants = {"off": [("conductor", "off")], "on": [("conductor-structured", "on")]}
    conductors = variants.get(args.structured, variants["off"] + variants["on"])
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; model {args.model}")
    results: list[SolvedItem] = []
    started = time.perf_counter()
    with ExitStack() as stack:
        python = None if args.no_python else stack.enter_context(SandboxPython())
        solvers: list[Solver] = [
            make_solver(n, layer, settings=settings) for n in ("standard", "zero-shot-cot")
        ]
        solvers += [
            ConductorSolver(
                layer,
                settings.model_copy(update={"structured": mode}),
                python=python,
                on_step=show_step,
                name=name,
            )
            for name, mode in conductors
        ]
        for name in args.benchmarks:
            evaluator = load_evaluator(name)
            for task in evaluator.tasks("test")[: args.items]:
                for solver in solvers:
                    result = run_item(evaluator, task, solver)
                    results.append(result)
                    mark = "ok " if result.passed else "no "
                    print(
                        f"{solver.name:>13} {mark} {task.id:<18} calls {result.calls:>2} "
                        f"tokens {result.tokens:>5} {result.seconds:6.1f}s  "
                        f"answer {str(result.answer)[:40]!r}",
                        flush=True,
                    )
    elapsed = time.perf_counter() - started
    names = [s.name for s in solvers]
    figures = {name: summarise(results, name) for name in names}
    print(
        f"\n{'solver':>20}  accuracy  calls/item  tokens/item  s/item  errors  "
        "well-formed turns  answered  experts/item"
    )
    for name, f in figures.items():
        print(
            f"{name:>20}  {f['acc']:8.2f}  {f['calls']:10.1f}  {f['tokens']:11.0f}  "
            f"{f['seconds']:6.1f}  {f['errors']:6.0f}  {f['well_formed']:17.2f}  "
            f"{f['answered']:8.2f}  {f['experts']:12.2f}"
        )
    print(f"{elapsed:.0f} s in all; load average now {os.getloadavg()[0]:.2f}")
    summary: dict[str, Any] = {
        "items": len(results) // len(names),
        "standard_acc": round(figures["standard"]["acc"], 4),
        "cot_acc": round(figures["zero-shot-cot"]["acc"], 4),
    }
    for name, _ in conductors:
        key, f = name.replace("-", "_"), figures[name]
        summary |= {
            f"{key}_acc": round(f["acc"], 4),
            f"{key}_well_formed": round(f["well_formed"], 4),
            f"{key}_answered": round(f["answered"], 4),
            f"{key}_experts_per_item": round(f["experts"], 2),
            f"{key}_calls_per_item": round(f["calls"], 2),
            f"{key}_tokens_per_item": round(f["tokens"], 1),
        }
    summary["load"] = round(os.getloadavg()[0], 2)
    return summary


if __name__ == "__main__":
    # On SIGTERM unwind like on Ctrl-C, so the Python expert's sandbox is removed.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    print(json.dumps(main(sys.argv[1:])))
