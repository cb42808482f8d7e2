"""The README's main job on the embedded model, on an idle machine and beside a CPU hog.

Runs ``examples/run.yaml`` twice, each in a fresh process as ``clade run`` would (its own
CLADE_HOME, the real embedded model on llama.cpp, real Docker sandboxes): once on an idle
machine, once beside a CPU-bound process that this script starts pinned to one core and
stops afterwards. Figures per run, then one JSON line:

- ``quiet_wall_s``, ``loaded_wall_s``: wall time of each run's process, start-up included;
- ``calls``, ``calls_in_time``: model calls of both runs, and the share answered before
  their caller's deadline (recorded without an error: no timeout, no caller gone);
- ``abandoned_tokens``: tokens generated for callers that had gone (the model layer's and
  the engines' counters, both runs);
- ``children``, ``children_edited`` (a non-empty diff), ``children_evaluated``: the fewer
  of the two runs, so the targets hold for both.

Targets (issue 16): quiet_wall_s <= 360, loaded/quiet <= 1.6, calls_in_time >= 0.95,
abandoned_tokens == 0, children_edited >= 2 in both runs.

    .venv/bin/python benchmarks/embedded_run.py [--config examples/run.yaml] [--set KEY=VALUE ...]
        [--phases quiet,loaded]      # a short trial: --phases quiet --set budget.generations=1
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"quiet_wall_s": 360, "loaded_over_quiet": 1.6, "calls_in_time": 0.95}
HOG = "import os\nos.sched_setaffinity(0, {0})\nwhile True:\n    pass\n"


def one_run(config_path: Path, overrides: list[str]) -> dict[str, Any]:
    """Run the config once in this process (a fresh CLADE_HOME) and measure it."""
    home = Path(tempfile.mkdtemp(prefix="clade-embedded-"))
    os.environ["CLADE_HOME"] = str(home / ".clade")
    os.chdir(home)
    from clade.orchestrator.config import settings

    settings.cache_clear()
    from clade.orchestrator.dgm import launch
    from clade.orchestrator.dgm.config import load_config
    from clade.orchestrator.home import open_archive

    config = load_config(config_path, overrides)
    archive = open_archive()
    run_id = archive.create_run(name="embedded-run", config=config.model_dump(mode="json")).id
    built: list[Any] = []

    def steps(*args: Any) -> Any:
        built.append(launch.real_steps(*args))
        return built[-1]

    def emit(event: dict[str, Any]) -> None:
        print(time.strftime("%H:%M:%S"), json.dumps(event, default=str)[:200], flush=True)

    launch.execute(archive, config, run_id, resume=False, emit=emit, steps_factory=steps)
    calls = _calls(home, run_id)
    rows = archive.list_candidates(run_id)
    trees = {r.id: r.tree_hash for r in rows}
    children = [r for r in rows if r.parent_id is not None]
    evaluator = built[0].evaluator.name
    evaluated = [
        c for c in children if archive.task_results(c.id, evaluator, config.evaluation.split)
    ]
    return {
        "calls": len(calls),
        "calls_ok": sum(1 for error in calls if error is None),
        "errors": sorted({str(e)[:80] for e in calls if e is not None})[:5],
        "abandoned_tokens": _abandoned(built[0].gateway.layer),
        "children": len(children),
        "children_edited": sum(1 for c in children if c.tree_hash != trees[c.parent_id]),
        "children_evaluated": len(evaluated),
        "scores": {archive.get_candidate(r.id).meta.get("key", r.id): r.score for r in rows},
    }


def _abandoned(layer: Any) -> int:
    """The model layer's count of tokens generated for callers that had gone."""
    value = layer.abandoned_tokens
    return int(value() if callable(value) else value)


def _calls(home: Path, run_id: str) -> list[str | None]:
    """The error column of every model call of the run (the archive is SQLite here)."""
    import sqlite3

    with sqlite3.connect(home / ".clade" / "clade.db") as db:
        query = "SELECT error FROM model_call WHERE run_id = ?"
        return [error for (error,) in db.execute(query, (run_id,))]


def phase(name: str, config: Path, overrides: list[str]) -> tuple[float, dict[str, Any]]:
    """One run in a child process (beside a CPU hog on core 0 when loaded): wall, figures."""
    hog = subprocess.Popen([sys.executable, "-c", HOG]) if name == "loaded" else None
    try:
        argv = [sys.executable, __file__, "--child", "--config", str(config)]
        argv += [f"--set={o}" for o in overrides]
        start = time.monotonic()
        env = {k: v for k, v in os.environ.items() if k not in ("CLADE_HOME", "CLADE_DB_URL")}
        done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env=env)
        wall = time.monotonic() - start
    finally:
        if hog is not None:
            hog.terminate()
            hog.wait()
    if done.returncode != 0:
        sys.exit(f"the {name} run failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    lines = done.stdout.strip().splitlines()
    for line in lines[:-1]:
        print(f"  [{name}] {line}")
    return wall, json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", type=Path, default=ROOT / "examples" / "run.yaml")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--phases", default="quiet,loaded")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    config = args.config.resolve()
    if args.child:
        print(json.dumps(one_run(config, args.overrides)))
        return

    results: dict[str, tuple[float, dict[str, Any]]] = {}
    for name in args.phases.split(","):
        print(f"{name} run of {config.relative_to(ROOT) if config.is_relative_to(ROOT) else config} ...", flush=True)  # fmt: skip
        results[name] = phase(name, config, args.overrides)
        wall, figures = results[name]
        print(f"{name}: {wall:.0f}s, {figures['calls']} calls ({figures['calls_ok']} in time), "
              f"children {figures['children']} (edited {figures['children_edited']}, evaluated "
              f"{figures['children_evaluated']}), abandoned tokens {figures['abandoned_tokens']}, "
              f"scores {figures['scores']}, errors {figures['errors']}")  # fmt: skip
    runs = [figures for _, figures in results.values()]
    calls = sum(r["calls"] for r in runs)
    quiet = results.get("quiet", (None, None))[0]
    loaded = results.get("loaded", (None, None))[0]
    summary = {
        "quiet_wall_s": round(quiet, 1) if quiet is not None else None,
        "loaded_wall_s": round(loaded, 1) if loaded is not None else None,
        "calls": calls,
        "calls_in_time": round(sum(r["calls_ok"] for r in runs) / calls, 4) if calls else None,
        "abandoned_tokens": sum(r["abandoned_tokens"] for r in runs),
        "children": min(r["children"] for r in runs),
        "children_edited": min(r["children_edited"] for r in runs),
        "children_evaluated": min(r["children_evaluated"] for r in runs),
    }
    if quiet and loaded:
        ratio = loaded / quiet
        summary["loaded_over_quiet"] = round(ratio, 2)
        print(f"loaded / quiet = {ratio:.2f} (target <= {TARGETS['loaded_over_quiet']})")
    print(f"targets: quiet_wall_s <= {TARGETS['quiet_wall_s']}, calls_in_time >= "
          f"{TARGETS['calls_in_time']}, abandoned_tokens == 0, children_edited >= 2")  # fmt: skip
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
