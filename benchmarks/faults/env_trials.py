"""Faults of what a run stands on: the Docker engine restarted, the disk full, the archive's
database locked or restarted, the model endpoint refusing connections; and a long soak."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .battery import Battery, Reference, sleep_until
from .engines import OwnDockerd, OwnPostgres, SqliteLocker, Tmpfs
from .harness import Trial
from .stub import KEY_ENV, ModelStub

#: Lines that say what went wrong without a traceback (a stop that needs a resume).
CLEAR = ("error:", "stopped:")


def _clear_failure(output: str) -> bool:
    return "Traceback" not in output and any(w in output for w in CLEAR)


def _finish(trial: Trial, proc: Any, run_id: str | None) -> dict[str, Any]:
    """Let the disturbed process end; resume once if it stopped with a clear error."""
    code = trial.complete(proc)
    facts: dict[str, Any] = {"exit_code": code}
    if code != 0:
        facts["clear_error"] = _clear_failure(proc.output())
        facts["error"] = [ln for ln in proc.output().splitlines() if ln.startswith("error")][-1:]
        facts["resume_rc"] = trial.complete(trial.resume(run_id or ""))
    return facts


def _outage(
    battery: Battery,
    trial: Trial,
    ref: Reference,
    latest: float,
    stop: Callable[[], object],
    start: Callable[[], object],
    down_s: float,
    kind: str,
) -> dict[str, Any]:
    """A new run whose part (engine, database) ``stop``s at a moment between 10% and
    ``latest`` of the reference run's wall time and ``start``s ``down_s`` later; judged
    against the reference."""
    proc = trial.new_run()
    run_id = trial.run_id(proc)
    moment = battery.at(ref, 0.1, latest)
    sleep_until(proc.started + moment)
    stop()
    time.sleep(down_s)
    start()
    facts = _finish(trial, proc, run_id)
    return battery.judge(trial, run_id, ref, kind=kind, at_s=round(moment, 2), down_s=down_s,
                         **facts)  # fmt: skip


def engine_restart(battery: Battery, ref_name: str, config: Path, down_s: float) -> dict[str, Any]:
    """The Docker engine (the benchmark's own) stops mid-run and starts ``down_s`` later."""
    ref = battery.references[ref_name]
    engine = OwnDockerd()
    try:
        engine.start()
        engine.load([battery.image])
        trial = battery.trial("engine-restart", config, DOCKER_HOST=engine.host)
        result = _outage(battery, trial, ref, 0.7, engine.stop, engine.start, down_s, "engine")
    finally:
        engine.close()
    result["ok"] = (
        result["identical"]
        and not result["leftovers"]
        and (result["exit_code"] == 0 or result.get("clear_error", False))
    )
    return result


def disk_full(battery: Battery, ref_name: str, config: Path) -> dict[str, Any]:
    """CLADE_HOME on a small tmpfs that fills up mid-run: one clear error, an intact
    archive and checkpoints, and a resume that finishes once space is freed."""
    ref = battery.references[ref_name]
    trial = battery.trial("disk-full", config)
    disk = Tmpfs(trial.home, 64)
    try:
        proc = trial.new_run()
        run_id = trial.run_id(proc)
        moment = battery.at(ref, 0.1, 0.7)
        sleep_until(proc.started + moment)
        disk.fill()
        code = trial.complete(proc)
        output = proc.output()
        intact = all(_integrity(trial.home / n) for n in ("clade.db", "checkpoints.db"))
        disk.free()
        resume_rc = trial.complete(trial.resume(run_id or "")) if code != 0 else 0
        result = battery.judge(
            trial, run_id, ref, kind="disk", at_s=round(moment, 2), exit_code=code,
            clear_error=code == 0 or ("no space left" in output and "Traceback" not in output),
            error=[ln for ln in output.splitlines() if ln.startswith("error")][-1:],
            intact=intact, resume_rc=resume_rc,
        )  # fmt: skip
    finally:
        disk.close()
    result["ok"] = result["identical"] and result["intact"] and result["clear_error"]
    return result


def _integrity(db: Path) -> bool:
    if not db.exists():
        return True
    with sqlite3.connect(db, timeout=60) as conn:
        return bool(conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok")


def sqlite_locked(battery: Battery, ref_name: str, config: Path, lock_s: float) -> dict[str, Any]:
    """Another process holds the archive's write lock for ``lock_s`` seconds mid-run."""
    ref = battery.references[ref_name]
    trial = battery.trial("sqlite-locked", config)
    proc = trial.new_run()
    run_id = trial.run_id(proc)
    moment = battery.at(ref, 0.1, 0.6)
    sleep_until(proc.started + moment)
    SqliteLocker(trial.home / "clade.db", lock_s).wait()
    facts = _finish(trial, proc, run_id)
    result = battery.judge(trial, run_id, ref, kind="db-sqlite", at_s=round(moment, 2),
                           lock_s=lock_s, **facts)  # fmt: skip
    result["ok"] = result["identical"] and result["exit_code"] == 0
    return result


def postgres_restart(
    battery: Battery, ref_name: str, config: Path, down_s: float
) -> dict[str, Any]:
    """The PostgreSQL server (the benchmark's own) stops mid-run, starts ``down_s`` later."""
    ref = battery.references[ref_name]
    server = OwnPostgres()
    try:
        server.start()
        url = server.create("clade_reliability")
        trial = battery.trial("postgres-restart", config, CLADE_DB_URL=url)
        stop = lambda: server.stop("fast")  # noqa: E731
        result = _outage(battery, trial, ref, 0.6, stop, server.start, down_s, "db-postgres")
    finally:
        server.close()
    result["ok"] = result["identical"] and (
        result["exit_code"] == 0 or result.get("clear_error", False)
    )
    return result


def model_config(battery: Battery, stub: ModelStub) -> Path:
    """The run config on the stub endpoint: retries that outlast a minute's outage, agent
    limits that outlast it too (the agent waits for its model call)."""
    model = {"model": "openai/scripted", "api_base": stub.api_base, "api_key_env": KEY_ENV}
    return battery.config(
        "model", models__default=model,
        models__retry={"max_retries": 12, "backoff_s": 1.0, "max_backoff_s": 10.0},
        agent_limits__max_seconds=300,
    )  # fmt: skip


def model_outage(battery: Battery, stub: ModelStub, config: Path, down_s: float) -> dict[str, Any]:
    """The model endpoint refuses connections for ``down_s`` seconds mid-run."""
    ref = battery.reference("model", config, **{KEY_ENV: "stub"})
    trial = battery.trial("model-outage", config, **{KEY_ENV: "stub"})
    proc = trial.new_run()
    run_id = trial.run_id(proc)
    moment = battery.at(ref, 0.1, 0.6)
    sleep_until(proc.started + moment)
    stub.outage(down_s)
    facts = _finish(trial, proc, run_id)
    result = battery.judge(trial, run_id, ref, kind="model", at_s=round(moment, 2),
                           down_s=down_s, reference_tokens=ref.tokens, **facts)  # fmt: skip
    # Backed-off attempts are not calls: each call is metered once, when it succeeds.
    result["ok"] = (
        result["identical"] and result["exit_code"] == 0 and not result["extra_calls"]
        and result["failed_calls"] == 0
    )  # fmt: skip
    return result


def soak(battery: Battery, minutes: float, warmup_s: float) -> dict[str, Any]:
    """A run of ``minutes`` (time budget): RSS and open fds of the process after the
    warm-up and just before the end."""
    config = battery.config("soak", budget__generations=100_000, budget__max_hours=minutes / 60)
    trial = battery.trial("soak", config)
    proc = trial.new_run()
    run_id = trial.run_id(proc)
    samples: list[tuple[float, float, int]] = []

    def sample() -> None:
        while proc.popen.poll() is None:
            figures = _rss_fds(proc.pid)
            if figures is not None:
                samples.append((time.monotonic() - proc.started, *figures))
            time.sleep(0.5)  # often enough to catch the floor between sandboxes

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    code = trial.complete(proc, timeout=minutes * 60 + 900)
    watcher.join(5)
    # Open descriptors rise and fall with the sandboxes in flight (each holds connections
    # to the engine), so the floor of a window is compared: the first window after the
    # warm-up against the last one. RSS: the median of the same windows.
    window = max(20.0, (minutes * 60 - warmup_s) / 5)
    end = minutes * 60
    first = [s for s in samples if warmup_s <= s[0] < warmup_s + window]
    last = [s for s in samples if end - window <= s[0] < end]
    if not first or not last:
        first = last = samples
    rss = (_median([s[1] for s in first]), _median([s[1] for s in last]))
    fds = (min(s[2] for s in first), min(s[2] for s in last))
    with trial.archive() as archive:
        candidates = len(archive.list_candidates(run_id or ""))
    result = {
        "trial": trial.name, "kind": "soak", "minutes": minutes, "exit_code": code,
        "candidates": candidates, "rss_mb": [round(rss[0], 1), round(rss[1], 1)],
        "fds": list(fds), "rss_growth_mb": round(rss[1] - rss[0], 1), "fd_growth": fds[1] - fds[0],
        "leftovers": trial.leftovers(run_id), "peak_rss_mb": round(max(s[1] for s in samples), 1),
        "peak_fds": max(s[2] for s in samples), "window_s": round(window),
    }  # fmt: skip
    battery.results.append(result)
    return result


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def _rss_fds(pid: int) -> tuple[float, int] | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        fds = len(list(Path(f"/proc/{pid}/fd").iterdir()))
    except OSError:
        return None
    kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return kb / 1024, fds
