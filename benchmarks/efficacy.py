"""The standard efficacy experiment: does a self-improvement run make the agent better on
tasks it never saw?

1. A real `clade run` (a subprocess of the CLI: Docker sandboxes, the DGM graph, selection,
   admission, diagnosis and experience on the dev split only) in a fresh CLADE_HOME.
2. The run's best admitted candidate (by the run's own score rule, on the dev split) and
   the seed are scored on the same held-out test tasks, with the same evaluator, options,
   models and agent limits (orchestrator/dgm/heldout.py), recorded under the test split.
3. The paired gain and its 95% bootstrap interval over those tasks.

Target on the embedded model (issue 17), on a 2-core machine within 60 minutes:
gain >= 0.10 and ci_low > 0 on at least one built-in evaluator, on >= 100 test tasks.

    .venv/bin/python benchmarks/efficacy.py                        # embedded model, word-sorting
    .venv/bin/python benchmarks/efficacy.py --evaluator multistep-arithmetic --budget 3
    .venv/bin/python benchmarks/efficacy.py --model openai/gpt-4o-mini --evaluator humaneval \\
        --set models.roles.diagnose.model=openai/gpt-4o --set budget.max_usd=5
    .venv/bin/python benchmarks/efficacy.py --quick                # a few tasks: mechanics only

Every setting that differs from Clade's defaults is printed, and the run's config is kept
in the archive (`clade archive runs`, `--home`). Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EMBEDDED = {"smollm2-135m"}

#: Difficulty levels at which the 135M model's seed solves a few dev tasks (so there is
#: something to learn from) and far from all; >= 100 test tasks each.
EMBEDDED_LEVELS: dict[str, dict[str, Any]] = {
    "word-sorting": {"n": 700, "min_words": 1, "max_words": 3, "max_syllables": 1},
    "multistep-arithmetic": {"n": 400, "depth": 1},
    "game24": {"numbers": 3, "max_number": 20},
    "humaneval": {},
}


def preset(model: str, evaluator: str, generations: int) -> dict[str, Any]:
    """The run config of the experiment: the levers that measurably help switched on."""
    local = model in EMBEDDED or model.startswith(("llamacpp/", "transformers/"))
    config: dict[str, Any] = {
        "name": f"efficacy-{evaluator}",
        "evaluation": {"evaluator": evaluator, "split": "dev"},
        # Noise-aware: parents and the best are ranked by the lower end of a 90% Wilson
        # interval. Every child that solves something is kept (an open-ended archive):
        # requiring its bound to beat the parent's mean rejected a 0.60-vs-0.42 child on 20
        # tasks in a trial.
        "selection": {"policy": "best", "children_per_generation": 2, "score": "lower_bound"},
        # One child per generation learns from the run's solved dev tasks.
        "experience": {"children": 1, "examples": 4},
        "budget": {"generations": generations},
        "parallelism": 2,
    }  # fmt: skip
    if local:
        config["models"] = {"default": {"model": model, "temperature": 0.0, "max_tokens": 128}}
        config["evaluation"]["options"] = dict(EMBEDDED_LEVELS.get(evaluator, {}))
        config["evaluation"]["stages"] = [{"tasks": 30}]
        config["agent_limits"] = {"max_steps": 4, "max_seconds": 120, "command_timeout": 10}
        config["sandbox"] = {"memory_mb": 512, "cpus": 1.0}
    else:
        config["models"] = {"default": {"model": model, "temperature": 0.0, "max_tokens": 1024}}
        config["evaluation"]["stages"] = [{"tasks": 10, "threshold": 0.1}, {"tasks": 50}]
        config["agent_limits"] = {"max_steps": 12, "max_seconds": 300}
    return config


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(tree, dict) and tree:
        out: dict[str, Any] = {}
        for key, value in tree.items():
            out |= _flatten(value, f"{prefix}{key}.")
        return out
    return {prefix[:-1]: tree}


def changed_settings(config: Any) -> dict[str, Any]:
    """Every setting of ``config`` that differs from RunConfig's default."""
    from clade.orchestrator.dgm.config import RunConfig

    default = _flatten(RunConfig().model_dump(mode="json"))
    mine = _flatten(config.model_dump(mode="json"))
    return {k: v for k, v in mine.items() if default.get(k, object()) != v}


def run_clade(home: Path, config_path: Path) -> float:
    """`clade run CONFIG` in ``home``; its output goes to stderr. Returns its wall time."""
    env = {**os.environ, "CLADE_HOME": str(home)}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "clade.orchestrator", "run", str(config_path)],
        env=env, stdout=sys.stderr, stderr=sys.stderr, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"clade run failed with exit status {done.returncode}")
    return time.monotonic() - started


def usage_by_role(archive: Any, run_id: str) -> dict[str, dict[str, int]]:
    from sqlalchemy import text

    query = text(
        "SELECT role, count(*), sum(prompt_tokens), sum(completion_tokens) FROM model_call "
        "WHERE run_id = :r GROUP BY role ORDER BY role"
    )
    with archive.engine.connect() as conn:
        rows = conn.execute(query, {"r": run_id}).all()
    return {
        r[0]: {"calls": r[1], "prompt": int(r[2] or 0), "completion": int(r[3] or 0)} for r in rows
    }


def price_estimates(roles: dict[str, dict[str, int]], models: list[str]) -> dict[str, float]:
    """What the same token counts would cost on each of ``models`` at litellm's prices."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    prompt = sum(r["prompt"] for r in roles.values())
    completion = sum(r["completion"] for r in roles.values())
    out = {}
    for name in models:
        price = litellm.model_cost.get(name) or {}
        if "input_cost_per_token" in price:
            cost = (
                prompt * price["input_cost_per_token"] + completion * price["output_cost_per_token"]
            )
            out[name] = round(cost, 4)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2-135m", help="every role's model (litellm name)")
    parser.add_argument("--evaluator", default="word-sorting", help="a built-in or module:Class")
    parser.add_argument("--budget", type=int, default=2, help="generations of the run")
    parser.add_argument("--test-tasks", type=int, default=100, help="held-out tasks scored")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                        help="override any run option, as `clade run --set` (repeatable)")  # fmt: skip
    parser.add_argument("--home", type=Path, default=None, help="CLADE_HOME of the experiment")
    parser.add_argument("--resume", action="store_true",
                        help="reuse the finished run in --home; score what is not scored yet")  # fmt: skip
    parser.add_argument("--quick", action="store_true",
                        help="mechanics only: 6 dev tasks, 1 generation, 8 test tasks")  # fmt: skip
    parser.add_argument("--price-as", action="append", default=None,
                        help="litellm models to price the run's tokens at")  # fmt: skip
    args = parser.parse_args()

    import yaml

    from clade.orchestrator.dgm.config import load_config

    home = (args.home or ROOT / ".clade" / "efficacy" / time.strftime("%Y%m%d-%H%M%S")).resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["CLADE_HOME"] = str(home)
    raw = preset(args.model, args.evaluator, 1 if args.quick else args.budget)
    sets = list(args.sets)
    if args.quick:
        sets = ["evaluation.stages=[{tasks: 6}]", *sets]
        args.test_tasks = min(args.test_tasks, 8)
    config_path = home / "efficacy.yaml"
    config_path.write_text(yaml.safe_dump(raw, sort_keys=False))
    config = load_config(config_path, sets)
    if config.evaluation.split != "dev":
        raise SystemExit("the experiment selects on the dev split only (evaluation.split=dev)")
    config_path.write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
    changed = changed_settings(config)
    print(f"efficacy: CLADE_HOME={home}; settings changed from the defaults:")
    for key, value in sorted(changed.items()):
        print(f"  {key} = {json.dumps(value)}")
    sys.stdout.flush()

    from clade.orchestrator.home import open_archive

    run_s = 0.0 if args.resume else run_clade(home, config_path)
    from clade.orchestrator.config import settings

    settings.cache_clear()
    archive = open_archive()
    run_id = archive.latest_run_id()
    record = archive.get_run(run_id)
    if record.status != "finished":
        raise SystemExit(
            f"run {run_id} did not finish ({record.status}): clade run --resume {run_id}"
        )
    if args.resume:
        run_s = ((record.finished_at or record.created_at) - record.created_at).total_seconds()
    tokens, usd = archive.run_usage(run_id)
    roles = usage_by_role(archive, run_id)
    summary = score_held_out(archive, run_id, args.test_tasks)
    summary["test_tokens"] = archive.run_usage(run_id)[0] - tokens
    candidates = archive.list_candidates(run_id)
    result = {
        **summary,
        "wall_s": round(run_s + summary.pop("test_s"), 1),
        "run_s": round(run_s, 1),
        "tokens": tokens,
        "usd": round(usd, 4),
        "generations": max(c.generation for c in candidates),
        "candidates": len(candidates),
        "admitted": sum(c.status == "admitted" for c in candidates),
        "experience_children": sum(
            archive.get_candidate(c.id).meta.get("mutation") == "experience" for c in candidates
        ),
        "model": args.model,
        "run_id": run_id,
        "tokens_by_role": roles,
        "priced_as": price_estimates(
            roles, args.price_as or ["gpt-4o-mini", "gpt-4o", "claude-sonnet-4-5"]
        ),
        "settings": changed,
        "meets_protocol": summary["test_tasks"] >= 100,
    }
    result["target_met"] = bool(
        result["meets_protocol"] and result["gain"] >= 0.10 and result["ci_low"] > 0
    )
    print(json.dumps(result))


def score_held_out(archive: Any, run_id: str, test_tasks: int) -> dict[str, Any]:
    """Seed and best on the same test tasks, paired; the interval of the gain."""
    from clade.orchestrator.dgm.config import RunConfig
    from clade.orchestrator.dgm.heldout import best_candidate, paired_bootstrap, score_on_split
    from clade.orchestrator.dgm.launch import real_steps
    from clade.orchestrator.evaluators.registry import load_evaluator

    config = RunConfig.model_validate(archive.get_run(run_id).config)
    evaluator = load_evaluator(config.evaluation.evaluator, **config.evaluation.options)
    tasks = evaluator.tasks("test")[:test_tasks]
    seed = archive.find_candidate(run_id, "seed")
    best_id = best_candidate(archive, run_id, config, evaluator)
    # The run is over: held-out scoring is not cut off by the run's token or dollar budget.
    unbounded = config.budget.model_copy(update={"max_tokens": None, "max_usd": None})
    steps = real_steps(archive, run_id, config.model_copy(update={"budget": unbounded}), evaluator)
    started = time.monotonic()

    def scored(name: str, candidate: Any) -> list[float]:
        print(f"{time.strftime('%H:%M:%S')} held-out: scoring {name} on {len(tasks)} test tasks",
              file=sys.stderr, flush=True)  # fmt: skip
        scores = score_on_split(archive, steps, evaluator, candidate, tasks)
        print(f"{time.strftime('%H:%M:%S')} held-out: {name} solved {sum(scores):g}/{len(tasks)}",
              file=sys.stderr, flush=True)  # fmt: skip
        return scores

    before = scored("the seed", seed)
    after = before
    if best_id != seed.id:
        after = scored(f"the best ({best_id})", archive.get_candidate(best_id))
    test_s = time.monotonic() - started
    low, high = paired_bootstrap(before, after)
    n = len(tasks)
    return {
        "evaluator": evaluator.name,
        "options": config.evaluation.options,
        "test_tasks": n,
        "seed_test": round(sum(before) / n, 4),
        "best_test": round(sum(after) / n, 4),
        "gain": round((sum(after) - sum(before)) / n, 4),
        "ci_low": round(low, 4),
        "ci_high": round(high, 4),
        "best": best_id,
        "best_is_seed": best_id == seed.id,
        "test_s": test_s,
    }


if __name__ == "__main__":
    main()
