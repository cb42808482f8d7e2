"""Judge drift: gold agreement and position consistency of every meta-prompt version.

The vanilla, LWE and selective-LWE judges (and selective LWE with the gold guard,
``--tolerance``) learn on the same stream of training pairs, both presentation orders: HumanEval
canonical solutions against failing mutants (verified in a Docker sandbox, cached) and right
answers against near misses of the generated tasks' dev split. Every version of each learning
judge's meta-prompt M (the seed and each accepted update), every refused update and the vanilla
judge are scored on the frozen gold set shipped with Clade (orchestrator/judges/data/), each
gold pair in both orders, by a frozen copy of the judge that learns nothing from it. No gold
question is in the training stream (any that were would be left out of the scoring).

Figures per version: agreement (share of the 2n gold verdicts that pick the right answer; a
judge that always says [[A]] gets exactly 0.5), consistency (share of pairs whose two orders
agree), pair agreement (right in both orders). Ends with one JSON line.

    .venv/bin/python benchmarks/judge_drift.py [--train 8] [--gold-limit N] [--tolerance 0.05]
        [--model smollm2-135m] [--threads 1] [--methods vanilla lwe selective selective-guarded]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

VARIANTS = ("vanilla", "lwe", "selective", "selective-guarded")


def training_stream(n: int, gold: list[Any], verifier: str) -> list[Any]:
    """``n`` labelled pairs, half HumanEval mutants, half generated near misses (dev split),
    none on a gold question."""
    from clade.orchestrator.judges.gold import held_out
    from clade.orchestrator.judges.gold_build import generated_pairs
    from clade.orchestrator.judges.pairs import load_or_build
    from clade.orchestrator.judges.verdict import Pair

    questions = {" ".join(g.question.split()) for g in gold}
    humaneval_n = (n + 1) // 2
    spare = sum(g.source == "humaneval" for g in gold)  # enough left once gold questions go
    _, built = load_or_build(humaneval_n + spare, seed=0, verifier=verifier)  # type: ignore[arg-type]
    humaneval = [r for r in built if " ".join(r.question.split()) not in questions][:humaneval_n]
    rows = [Pair(id=f"train/{r.id}", question=r.question, answer_a=r.answer_a,
                 answer_b=r.answer_b, label=r.label) for r in humaneval]  # fmt: skip
    each = -(-(n - len(rows)) // 3)
    generated = [
        g.pair()
        for name in ("game24", "word-sorting", "multistep-arithmetic")
        for g in generated_pairs(name, each, seed=0, split="dev")  # type: ignore[arg-type]
    ]
    mixed = interleave_pairs(rows, generated)[:n]
    _, dropped = held_out(gold, mixed)
    assert dropped == 0, "a training pair shares a gold question"
    return mixed


def interleave_pairs(first: list[Any], second: list[Any]) -> list[Any]:
    out: list[Any] = []
    for i in range(max(len(first), len(second))):
        out += first[i : i + 1] + second[i : i + 1]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--train", type=int, default=8, help="training pairs (default 8)")
    parser.add_argument("--gold-limit", type=int, default=None, help="first N gold pairs only")
    parser.add_argument("--tolerance", type=float, default=0.05, help="guard of selective-guarded")
    parser.add_argument("--model", default="smollm2-135m", help="judge model")
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp threads (default 1)")
    parser.add_argument("--batch", type=int, default=4, help="feedback records per update of M")
    parser.add_argument("--methods", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--verifier", choices=("docker", "harness"), default="docker")
    args = parser.parse_args()

    from clade.archive.facade import Archive
    from clade.orchestrator.judges.caller import Caller
    from clade.orchestrator.judges.drift import GoldScorer
    from clade.orchestrator.judges.gold import load_gold
    from clade.orchestrator.judges.lwe import LWEConfig
    from clade.orchestrator.judges.runner import build_judge, judge_pairs, metrics
    from clade.orchestrator.judges.store import ArchiveStore
    from clade.orchestrator.models.layer import ModelLayer
    from clade.orchestrator.models.routing import local_engine
    from clade.orchestrator.models.spec import ModelsConfig

    gold = load_gold(limit=args.gold_limit)
    stream = training_stream(args.train, gold, args.verifier)
    print(
        f"load {os.getloadavg()[0]:.2f}; {len(gold)} gold pairs "
        f"{ {s: sum(g.source == s for g in gold) for s in sorted({g.source for g in gold})} }; "
        f"{len(stream)} training pairs, both orders; model {args.model}",
        flush=True,
    )
    engine = {"n_threads": args.threads} if local_engine(args.model) == "llamacpp" else {}
    layer = ModelLayer(
        ModelsConfig.model_validate({"default": {"model": args.model, "engine_options": engine}})
    )
    scorers: dict[str, GoldScorer] = {}
    reports: dict[str, list[Any]] = {}
    distinct: dict[str, int] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        archive = Archive(f"sqlite:///{Path(folder) / 'bench.db'}", Path(folder) / "blobs")
        for variant in args.methods:
            method = "selective" if variant == "selective-guarded" else variant
            first = next(iter(scorers.values()), None)
            if method not in scorers:  # one scorer per method: the same M is scored once
                scorers[method] = GoldScorer(
                    gold,
                    Caller(layer),
                    method=method,
                    share_vanilla=first,  # type: ignore[arg-type]
                )
            tolerance = args.tolerance if variant == "selective-guarded" else None
            run = archive.create_run(name=f"drift {variant}", kind="judge")
            store = ArchiveStore(archive, f"drift-{variant}", run.id)
            caller = Caller(layer, run_id=run.id)
            begun = time.perf_counter()
            judge = build_judge(
                method, caller, store,  # type: ignore[arg-type]
                config=LWEConfig(batch=args.batch, gold_tolerance=tolerance),
                gold=scorers[method],
            )  # fmt: skip
            found = metrics(judge_pairs(judge, caller, stream), caller)
            archive.finish_run(run.id)
            reports[variant] = store.gold
            texts = {v.version: v.text for v in archive.meta_prompt_versions(run_id=run.id)}
            distinct[variant] = len(set(texts.values()))
            for r in store.gold:
                fate = {True: "accepted", False: "REFUSED", None: ""}[r.accepted]
                text = texts.get(r.version or 0, "")
                digest = hashlib.sha256(text.encode()).hexdigest()[:8] if text else "-"
                print(
                    f"  {variant:17} v{r.version or '-':<3} {r.label:18} M {digest} "
                    f"({len(text)} chars) agreement {r.agreement:.3f} "
                    f"consistency {r.consistency:.3f} pair {r.pair_agreement:.3f} "
                    f"valid {r.valid:.2f} {fate:8} ({r.calls} gold calls)",
                    flush=True,
                )
            print(
                f"{variant}: training accuracy {found.accuracy} consistency {found.consistency} "
                f"({found.calls} calls); {time.perf_counter() - begun:.0f}s; "
                f"load {os.getloadavg()[0]:.2f}",
                flush=True,
            )
        archive.close()
    print(json.dumps(summary(reports, distinct, gold, stream, scorers, started)))


def summary(
    reports: dict[str, list[Any]], distinct: dict[str, int], gold: list[Any], stream: list[Any],
    scorers: dict[str, Any], started: float,
) -> dict[str, Any]:  # fmt: skip
    """The JSON line: per variant, the figures of the first, last and worst version."""
    out: dict[str, Any] = {"gold_pairs": len(gold), "train_pairs": len(stream)}
    kept = {v: [r for r in rs if r.accepted is not False] for v, rs in reports.items()}
    out["versions"] = sum(len(rs) for rs in kept.values())
    out["refused"] = sum(r.accepted is False for rs in reports.values() for r in rs)
    for variant, rs in kept.items():
        key = variant.replace("-", "_")
        if not rs:
            continue
        out[f"{key}_versions"] = len(rs)
        if distinct.get(variant):
            out[f"{key}_distinct_texts"] = distinct[variant]
        out[f"{key}_agreement_first"] = rs[0].agreement
        out[f"{key}_agreement_last"] = rs[-1].agreement
        out[f"{key}_agreement_min"] = min(r.agreement for r in rs)
        out[f"{key}_consistency_first"] = rs[0].consistency
        out[f"{key}_consistency_last"] = rs[-1].consistency
        out[f"{key}_pair_agreement_last"] = rs[-1].pair_agreement
    out["by_version"] = [
        {"judge": v, "version": r.version, "label": r.label, "agreement": r.agreement,
         "consistency": r.consistency, "accepted": r.accepted}
        for v, rs in reports.items() for r in rs
    ]  # fmt: skip
    out["gold_calls"] = sum(s.caller.calls for s in scorers.values())
    out["seconds"] = round(time.perf_counter() - started)
    out["load"] = round(os.getloadavg()[0], 2)
    return out


if __name__ == "__main__":
    main()
