"""The fault battery: a self-improvement run must survive what real machines do to it.

Real Docker, real SQLite and PostgreSQL, the scripted model of examples/scripted_agent.py
(in-process, or behind an OpenAI-compatible stub endpoint for the model outage), the
config of issue 21 (word sorting, 3 generations of 2 children, parallelism 2). Every trial
is compared with an undisturbed reference run of the same config and seed, by candidate
key, parent, tree hash, status, evaluations and model calls per role (which may only grow,
by the steps in flight at the fault). Nothing it disturbs is shared: the Docker engine it
restarts, the PostgreSQL server it restarts and the disk it fills are its own.

- kill fuzz: SIGKILL at uniformly random moments (every third trial twice, the second
  time in the resumed process; every other trial is followed by `clade sandbox prune`),
  then `clade run --resume`;
- SIGTERM and SIGINT (once and twice): stop within a few seconds, non-zero, with the hint;
- Docker engine restarted, disk full under CLADE_HOME (a small tmpfs), SQLite locked by
  another writer, PostgreSQL restarted, model endpoint refusing connections;
- two processes on one run (a resume while it runs; two resumes after a SIGKILL);
- orphans: containers, socket folders and temporary folders left by any trial;
- soak: RSS and open file descriptors after warm-up and at the end of a long run.

Targets (issue 21): kill_identical == kill_trials >= 20, orphans == 0, every *_ok == 1,
soak_rss_growth_mb <= 50, soak_fd_growth <= 5.

    .venv/bin/python benchmarks/reliability.py            # the full battery (1-2 h on 2 cores)
    .venv/bin/python benchmarks/reliability.py --quick    # reduced, for CI (a few minutes)

Needs root (tmpfs, a second dockerd, PostgreSQL as `nobody`), Docker and PostgreSQL's
server programs (scripts/ensure-postgres.sh).
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from faults import env_trials, process_trials
from faults.battery import Battery
from faults.stub import ModelStub

FULL = {"generations": 3, "kills": 20, "signals": 2, "engine_down_s": 20.0, "lock_s": 75.0,
        "pg_down_s": 15.0, "model_down_s": 60.0, "soak_min": 30.0, "warmup_s": 120.0}  # fmt: skip
QUICK = {"generations": 1, "kills": 2, "signals": 1, "engine_down_s": 8.0, "lock_s": 8.0,
         "pg_down_s": 4.0, "model_down_s": 8.0, "soak_min": 0.75, "warmup_s": 10.0}  # fmt: skip


def agent_image() -> str:
    from clade.orchestrator.config import settings
    from clade.sandbox.images import build_agent_image

    return build_agent_image(settings().base_image).tag


def battery(plan: dict[str, Any], root: Path, seed: int, only: set[str]) -> dict[str, Any]:
    run = Battery(root, agent_image(), seed, generations=plan["generations"])
    base = run.config("base")
    ref = run.reference("base", base)
    print(f"reference: {ref.wall_s:.1f} s, {len(ref.fingerprint['candidates'])} candidates, "
          f"calls {ref.fingerprint['calls']}", flush=True)  # fmt: skip
    kills, signals, ok, figures = [], [], {}, {}
    if "kill" in only:
        for n in range(plan["kills"]):
            kills.append(process_trials.kill_trial(
                run, "base", base, kills=2 if n % 3 == 1 else 1, prune=n % 2 == 0))  # fmt: skip
    if "signal" in only:
        for n in range(plan["signals"]):  # SIGTERM, SIGINT, then both twice, ...
            for signum in (signal.SIGTERM, signal.SIGINT):
                twice = n % 2 == 1
                signals.append(process_trials.signal_trial(run, "base", base, signum, twice=twice))
        if plan["signals"] < 2:  # a second Ctrl-C must exit at once, in every battery
            signals.append(
                process_trials.signal_trial(run, "base", base, signal.SIGINT, twice=True)
            )
    if "concurrent" in only:
        both = process_trials.concurrent_trials(run, "base", base)
        empty = process_trials.empty_resume(run)
        ok["concurrent_resume_ok"] = (
            all(r["identical"] and r["refused"] for r in both) and empty["ok"]
        )
    if "engine" in only:
        ok["engine_restart_ok"] = env_trials.engine_restart(
            run, "base", base, plan["engine_down_s"]
        )["ok"]
    if "disk" in only:
        ok["disk_full_ok"] = env_trials.disk_full(run, "base", base)["ok"]
    if "db" in only:
        locked = env_trials.sqlite_locked(run, "base", base, plan["lock_s"])
        restarted = env_trials.postgres_restart(run, "base", base, plan["pg_down_s"])
        ok["db_outage_ok"] = locked["ok"] and restarted["ok"]
    if "model" in only:
        stub = ModelStub()
        try:
            config = env_trials.model_config(run, stub)
            ok["model_outage_ok"] = env_trials.model_outage(
                run, stub, config, plan["model_down_s"]
            )["ok"]
        finally:
            stub.close()
    if "soak" in only:
        soaked = env_trials.soak(run, plan["soak_min"], plan["warmup_s"])
        figures = {"soak_rss_growth_mb": soaked["rss_growth_mb"], "soak_fd_growth": soaked["fd_growth"],
                   "soak_rss_mb": soaked["rss_mb"], "soak_fds": soaked["fds"],
                   "soak_candidates": soaked["candidates"]}  # fmt: skip
    judged = [r for r in run.results if "leftovers" in r]
    stops = [r for r in signals]
    return {
        "kill_trials": len(kills),
        "kill_identical": sum(
            1 for r in kills if r["identical"] and r["landed"] and not r.get("left_after_prune")
        ),
        "kill_count": sum(r["kills"] for r in kills),
        "orphans": sum(len(r["leftovers"]) for r in judged),
        **{k: int(v) for k, v in ok.items()},
        **figures,
        "signal_trials": len(stops),
        "signal_stopped": sum(1 for r in stops if r["stopped_ok"] and r["identical"]),
        "max_stop_s": max((r["stop_s"] for r in stops), default=None),
        "max_extra_calls": max((sum(r.get("extra_calls", {}).values()) for r in judged), default=0),
        "stray_warnings": sum(len(r.get("noise", [])) for r in run.results),
        "reference_wall_s": round(ref.wall_s, 1),
    }


def verdict(summary: dict[str, Any], quick: bool) -> list[str]:
    """The targets the figures miss (empty: all met)."""
    missed = []
    floor = 1 if quick else 20
    if (
        summary.get("kill_trials", 0)
        and not summary["kill_identical"] == summary["kill_trials"] >= floor
    ):
        missed.append(f"kill_identical == kill_trials >= {floor}")
    if summary.get("orphans", 0):
        missed.append("orphans == 0")
    missed += [k for k, v in summary.items() if k.endswith("_ok") and v != 1]
    if summary.get("soak_rss_growth_mb", 0) > 50:
        missed.append("soak_rss_growth_mb <= 50")
    if summary.get("soak_fd_growth", 0) > 5:
        missed.append("soak_fd_growth <= 5")
    if summary.get("signal_trials") and summary["signal_stopped"] != summary["signal_trials"]:
        missed.append("every signal trial stops in time and resumes identically")
    if summary.get("stray_warnings"):
        missed.append("stray_warnings == 0")
    return missed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="the reduced battery (CI)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random kill moments")
    parser.add_argument("--only", default="kill,signal,concurrent,engine,disk,db,model,soak",
                        help="comma-separated parts to run")  # fmt: skip
    parser.add_argument("--soak-minutes", type=float, help="override the soak's length")
    parser.add_argument("--keep", action="store_true", help="keep the trials' folders")
    args = parser.parse_args()
    plan = dict(QUICK if args.quick else FULL)
    if args.soak_minutes:
        plan["soak_min"] = args.soak_minutes
    root = Path(tempfile.mkdtemp(prefix="clade-rel-", dir="/tmp"))
    started = time.monotonic()
    try:
        summary = battery(plan, root, args.seed, set(args.only.split(",")))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    summary["wall_s"] = round(time.monotonic() - started, 1)
    missed = verdict(summary, args.quick)
    for name in missed:
        print(f"target missed: {name}", flush=True)
    if args.keep:
        print(f"trials kept in {root}", flush=True)
    print(json.dumps(summary), flush=True)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
