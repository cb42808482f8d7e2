"""Compare the vanilla, LWE and selective-LWE judges on HumanEval mutation pairs.

Each pair is a HumanEval canonical solution against a seeded mutant that fails the tests
(built locally and verified in a Docker sandbox, cached under ~/.cache/clade/judge_pairs).
All three methods run side by side, with the same model, on both presentation orders of
every pair (see orchestrator/judges/runner.py for the metrics). Cost is per emitted verdict,
every call included (updates of M and the final flush). M versions go to a throwaway
SQLite archive, as in a real run.

    .venv/bin/python benchmarks/judge_methods.py [--items 8] [--model smollm2-135m] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=8, help="pairs to judge (default 8)")
    parser.add_argument(
        "--model", default="smollm2-135m", help="judge model (default smollm2-135m)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="llama.cpp threads (default 1: on a busy 2-core machine, 2 threads were ~15x slower)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the benchmark (default 0)")
    parser.add_argument(
        "--verifier",
        choices=("docker", "harness"),
        default="docker",
        help="how mutants are checked",
    )
    args = parser.parse_args()

    from clade.archive.facade import Archive
    from clade.orchestrator.judges.caller import Caller
    from clade.orchestrator.judges.pairs import load_or_build
    from clade.orchestrator.judges.runner import METHODS, build_judge, judge_pairs, metrics
    from clade.orchestrator.judges.store import ArchiveStore
    from clade.orchestrator.judges.verdict import Pair
    from clade.orchestrator.models.layer import ModelLayer
    from clade.orchestrator.models.routing import local_engine
    from clade.orchestrator.models.spec import ModelsConfig

    print(f"load {os.getloadavg()[0]:.2f}; building/loading {args.items} pairs (seed {args.seed})")
    path, rows = load_or_build(args.items, seed=args.seed, verifier=args.verifier)
    pairs = [Pair.model_validate(r.model_dump()) for r in rows]
    kinds = {k: sum(r.mutation == k for r in rows) for k in {r.mutation for r in rows}}
    print(f"{len(pairs)} pairs from {path} (mutations {kinds})")
    results = {}
    on_llamacpp = local_engine(args.model) == "llamacpp"
    engine = {"n_threads": args.threads} if on_llamacpp else {}
    with tempfile.TemporaryDirectory() as folder:
        archive = Archive(f"sqlite:///{Path(folder) / 'bench.db'}", Path(folder) / "blobs")
        layer = ModelLayer(
            ModelsConfig.model_validate(
                {"default": {"model": args.model, "engine_options": engine}}
            )
        )
        for method in METHODS:
            run = archive.create_run(name=f"bench {method}", kind="judge")
            caller = Caller(layer, run_id=run.id)
            judge = build_judge(method, caller, ArchiveStore(archive, f"bench-{method}", run.id))
            start = time.perf_counter()

            def progress(result, decisions, method=method, start=start):
                print(
                    f"  {method:9} {result.id:14} label {result.label} verdicts "
                    f"{result.verdict}/{result.verdict_swapped} paths {result.path}/"
                    f"{result.path_swapped} calls {result.calls} "
                    f"({time.perf_counter() - start:.0f}s)",
                    flush=True,
                )

            found = metrics(judge_pairs(judge, caller, pairs, on_item=progress), caller)
            versions = archive.meta_prompt_versions("judge", f"bench-{method}")
            archive.finish_run(run.id)
            results[method] = found
            print(
                f"{method}: acc {found.accuracy} swap acc {found.swap_accuracy} consistency "
                f"{found.consistency} pair acc {found.pair_accuracy} valid {found.valid}; {found.calls_per_item} "
                f"calls and {found.tokens_per_item} tokens per verdict; {len(versions)} version(s) "
                f"of M; {time.perf_counter() - start:.0f}s; load {os.getloadavg()[0]:.2f}",
                flush=True,
            )
        archive.close()
    summary = {"items": len(pairs)}
    summary.update({f"{m}_pair_acc": results[m].pair_accuracy for m in METHODS})
    summary.update({f"{m}_calls_per_item": results[m].calls_per_item for m in METHODS})
    summary.update({f"{m}_accuracy": results[m].accuracy for m in METHODS})
    summary.update({f"{m}_consistency": results[m].consistency for m in METHODS})
    summary.update({f"{m}_valid_share": results[m].valid for m in METHODS})
    summary.update({f"{m}_tokens_per_item": results[m].tokens_per_item for m in METHODS})
    summary["load"] = round(os.getloadavg()[0], 2)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
