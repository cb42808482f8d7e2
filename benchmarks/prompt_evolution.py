"""Does evolving the conductor's prompt set make it better on questions it never saw?

1. A prompt-set run (``kind: prompt_set``: the DGM graph, the ``mutate`` role's GEPA-style
   rewrites, staged evaluation on the dev split, admission by validation on dev tasks kept
   apart) in a fresh CLADE_HOME, every role on the same model.
2. The run's best admitted set (by its dev score) and the seed set answer the same
   held-out test tasks with the same conductor settings, recorded under the test split.
3. The paired gain and its 95% bootstrap interval over those tasks, and the one-sided sign
   test of the tasks the best set won against those it lost.

The defaults fit a 2-core machine in about 30 minutes on the embedded SmolLM2-135M: a
one-round structured conductor (its only turn is a JSON final answer, so every item is
one call), sorting one to three one-syllable words, 10 dev tasks per stage, 20 validation tasks,
2 children per generation for 3 generations, 100 test tasks.

    .venv/bin/python benchmarks/prompt_evolution.py [--model smollm2-135m] [--test-tasks 100]
        [--generations 3] [--children 2] [--stage-tasks 10] [--validation-tasks 20]
        [--evaluator word-sorting] [--fields meta question last_round] [--quick]

``--family judge`` evolves a learning judge's meta-prompt M instead (``prompt_set.family:
judge``, docs/PROMPT_SETS.md): the tasks are the shipped gold pairs (evaluator ``judge-gold``,
split by question), a task scores the share of its two verdicts (both orders) that are right,
so the figures are gold agreement; the defaults become 8 dev tasks per stage, 12 validation
tasks and every test pair (35).

Prints the run's events, then seed and best side by side on dev, validation and test, and
the best set's diff; ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

#: Levels at which a 135M conductor answers some items and far from all.
LEVELS: dict[str, dict[str, Any]] = {
    "multistep-arithmetic": {"n": 300, "depth": 1},
    "word-sorting": {"n": 700, "min_words": 1, "max_words": 3, "max_syllables": 1},
    "game24": {"numbers": 3, "max_number": 20},
}


def run_config(args: argparse.Namespace) -> dict[str, Any]:
    options = {"n_threads": args.threads} if args.model == "smollm2-135m" else {}
    spec = {"model": args.model, "temperature": 0.0, "max_tokens": args.max_tokens,
            "engine_options": options}  # fmt: skip
    if args.family == "judge":  # the judge's calls set their own max_tokens (LWEConfig)
        spec.pop("max_tokens")
        evaluation = {"evaluator": "judge-gold", "options": {}}
        family = {"family": "judge", "judge_method": args.judge_method, "failures": 3}
    else:
        evaluation = {"evaluator": args.evaluator, "options": LEVELS.get(args.evaluator, {})}
        family = {"fields": args.fields, "rounds": args.rounds, "structured": "on", "failures": 3}
    return {
        "name": "prompt-evolution",
        "kind": "prompt_set",
        "seed": 0,
        "models": {
            "default": spec,
            # The mutate role writes whole templates: more tokens, and it samples.
            "roles": {"mutate": {**spec, "max_tokens": args.mutate_tokens, "temperature": 0.7}},
        },
        "evaluation": {**evaluation, "stages": [{"tasks": args.stage_tasks}]},
        "selection": {
            "policy": "best",
            "children_per_generation": args.children,
            "admit": "validation",
            "validation_tasks": args.validation_tasks,
            "confidence": 0.9,
        },
        "prompt_set": family,
        "budget": {"generations": args.generations},
        "parallelism": 2,
    }


def show(event: dict[str, Any]) -> None:
    print(time.strftime("%H:%M:%S"), json.dumps(event, default=str)[:300], flush=True)


def mean(scores: list[float]) -> float:
    return sum(scores) / len(scores) if scores else 0.0


def measured(scores: list[float]) -> float | None:
    return round(mean(scores), 4) if scores else None


def shown(value: float | None) -> str:
    return f"{value:6.3f}" if value is not None else f"{'-':>6}"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--evaluator", default="word-sorting", choices=sorted(LEVELS))
    parser.add_argument(
        "--family",
        choices=("conductor", "judge"),
        default="conductor",
        help="What evolves: the conductor's prompt set, or a judge's M.",
    )
    parser.add_argument(
        "--judge-method",
        choices=("lwe", "selective"),
        default="lwe",
        help="The frozen judge of --family judge.",
    )
    parser.add_argument(
        "--test-tasks",
        type=int,
        default=None,
        help="Held-out tasks (default 100; every test pair for a judge).",
    )
    parser.add_argument("--generations", type=int, default=3)
    parser.add_argument("--children", type=int, default=2)
    parser.add_argument("--stage-tasks", type=int, default=None, help="Default 10 (judge 8).")
    parser.add_argument("--validation-tasks", type=int, default=None, help="Default 20 (judge 12).")
    parser.add_argument("--rounds", type=int, default=1, help="Conductor turns per item.")
    parser.add_argument("--max-tokens", type=int, default=48, help="Tokens per conductor call.")
    parser.add_argument("--mutate-tokens", type=int, default=320, help="Tokens per mutate call.")
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp threads.")
    parser.add_argument("--fields", nargs="+", default=["meta", "question", "last_round"])
    parser.add_argument("--quick", action="store_true", help="A few tasks: mechanics only.")
    parser.add_argument("--home", type=Path, default=None, help="CLADE_HOME (default: a temp dir).")
    args = parser.parse_args(argv)
    judge = args.family == "judge"
    if args.test_tasks is None and not judge:  # None: every test task (a judge's 35 pairs)
        args.test_tasks = 100
    if args.stage_tasks is None:
        args.stage_tasks = 8 if judge else 10
    if args.validation_tasks is None:
        args.validation_tasks = 12 if judge else 20
    if args.quick:
        args.test_tasks, args.generations, args.children = 6, 1, 1
        args.stage_tasks, args.validation_tasks = 3, 4

    home = args.home or Path(tempfile.mkdtemp(prefix="clade-prompt-evolution-"))
    os.environ["CLADE_HOME"] = str(home)
    from clade.orchestrator.config import settings

    settings.cache_clear()
    from clade.orchestrator.dgm.config import RunConfig
    from clade.orchestrator.dgm.heldout import (
        best_candidate,
        paired_bootstrap,
        score_on_split,
        sign_test,
    )
    from clade.orchestrator.dgm.launch import create_run, execute
    from clade.orchestrator.dgm.validation import VALIDATION, validation_tasks
    from clade.orchestrator.evaluators.registry import load_evaluator
    from clade.orchestrator.home import open_archive
    from clade.orchestrator.promptsets import promptset_steps

    config = RunConfig.model_validate(run_config(args))
    load_before = os.getloadavg()[0]
    print(f"load average {load_before:.2f} on {os.cpu_count()} cores; model {args.model}; "
          f"home {home}")  # fmt: skip
    started = time.perf_counter()
    archive = open_archive()
    run_id = create_run(archive, config)
    execute(archive, config, run_id, resume=False, emit=show, steps_factory=promptset_steps)
    evolved_s = time.perf_counter() - started

    evaluator = load_evaluator(config.evaluation.evaluator, **config.evaluation.options)
    steps = promptset_steps(archive, run_id, config, evaluator)
    rows = archive.list_candidates(run_id)
    seed = archive.get_candidate(rows[0].id)
    best = archive.get_candidate(best_candidate(archive, run_id, config, evaluator))
    tasks = evaluator.tasks("test")[: args.test_tasks]
    seed_test = score_on_split(archive, steps, evaluator, seed, tasks)
    best_test = score_on_split(archive, steps, evaluator, best, tasks)
    low, high = paired_bootstrap(seed_test, best_test)
    val = validation_tasks(evaluator, config)
    # None: not measured on that split (validation runs only when a child reaches it).
    figures: dict[str, tuple[float | None, float | None]] = {}
    for split in ("dev", VALIDATION):
        done = [
            [r.score for r in archive.attempt_rows(run_id, evaluator.name, split)
             if r.candidate_id == c.id]
            for c in (seed, best)
        ]  # fmt: skip
        figures[split] = (measured(done[0]), measured(done[1]))
    figures["test"] = (mean(seed_test), mean(best_test))
    print(f"\n{'split':>6}  {'seed':>6}  {'best':>6}   (best: {best.meta.get('key')}, "
          f"{len(rows)} candidates, {sum(r.status == 'admitted' for r in rows)} admitted; "
          f"validation on {len(val)} tasks)")  # fmt: skip
    for split, (before, after) in figures.items():
        print(f"{split:>6}  {shown(before)}  {shown(after)}")
    for r in rows[1:]:
        why = archive.get_candidate(r.id).rejection_reason
        print(f"  {archive.get_candidate(r.id).meta.get('key')}: {r.status}"
              + (f" ({why[:120]})" if why else ""))  # fmt: skip
    if best.id != seed.id:
        print(archive.diff(seed.id, best.id)[:3000])
    load_after = os.getloadavg()[0]
    return {
        "family": args.family,
        "evaluator": evaluator.name,
        "model": args.model,
        "test_tasks": len(tasks),
        "seed_test": round(mean(seed_test), 4),
        "best_test": round(mean(best_test), 4),
        "gain": round(mean(best_test) - mean(seed_test), 4),
        "ci_low": round(low, 4),
        "ci_high": round(high, 4),
        "sign_p": round(sign_test(seed_test, best_test), 4),
        "best": best.meta.get("key"),
        "candidates": len(rows),
        "admitted": sum(r.status == "admitted" for r in rows),
        "seed_dev": figures["dev"][0],
        "best_dev": figures["dev"][1],
        "seed_val": figures[VALIDATION][0],
        "best_val": figures[VALIDATION][1],
        "evolve_s": round(evolved_s),
        "total_s": round(time.perf_counter() - started),
        "load": [round(load_before, 2), round(load_after, 2)],
    }


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    print(json.dumps(main(sys.argv[1:])))
