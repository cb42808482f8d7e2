"""Faults of the process itself: SIGKILL at random moments (some twice), SIGTERM and SIGINT
(some twice), and two processes on one run."""

from __future__ import annotations

import signal
import time
from typing import Any

from .battery import Battery, sleep_until
from .harness import Trial

#: Seconds a signalled run may take to exit ("within a few seconds").
STOP_LIMIT_S = 10.0


def _calls(trial: Trial, run_id: str) -> int:
    with trial.archive() as archive:
        from sqlalchemy import text

        with archive.engine.connect() as conn:
            return int(
                conn.execute(
                    text("SELECT count(*) FROM model_call WHERE run_id = :r"), {"r": run_id}
                ).scalar()
            )


def _prune(trial: Trial, run_id: str) -> dict[str, Any]:
    """``clade sandbox prune`` after a SIGKILL: what the kill left must go, nothing else."""
    before = trial.leftovers(run_id)
    proc = trial.start("sandbox", "prune")
    code = trial.complete(proc, 120)
    after = trial.leftovers(run_id)
    return {"prune_rc": code, "left_by_kill": len(before), "left_after_prune": after}


#: Tries of a trial whose fault missed (the run had already ended), each at 0.6x the moments.
TRIES = 4


def kill_trial(
    battery: Battery, ref_name: str, config: Any, *, kills: int, prune: bool
) -> dict[str, Any]:
    """SIGKILL the run at a random moment (``kills`` times, the later ones in a resumed
    process), then resume it to the end. A kill must land in a running process: a try
    whose kill came after the run ended is made again, earlier."""
    ref = battery.references[ref_name]
    for attempt in range(TRIES):
        scale = 0.6**attempt
        trial = battery.trial(f"kill{kills}", config)
        proc = trial.new_run()
        run_id = trial.run_id(proc)
        moments, landed = [], True
        for n in range(kills):
            moment = battery.at(ref, 0.0, 0.95 if n == 0 else 0.5, scale)
            sleep_until(proc.started + moment)
            moments.append(round(moment, 2))
            landed = proc.kill() and landed
            if n + 1 < kills:
                proc = trial.resume(run_id or "")
        if landed or attempt + 1 == TRIES:
            break
    facts: dict[str, Any] = {"kind": "sigkill", "kills": kills, "at_s": moments, "landed": landed}
    if prune:
        facts.update(_prune(trial, run_id or ""))
    code = trial.complete(trial.resume(run_id or ""))
    return battery.judge(trial, run_id, ref, resume_rc=code, **facts)


def signal_trial(
    battery: Battery, ref_name: str, config: Any, signum: int, *, twice: bool
) -> dict[str, Any]:
    """SIGTERM or SIGINT (twice: a second one half a second later) at a random moment:
    the process must stop within seconds, non-zero, saying how to resume. A signal must
    land in a running process (else the try is made again, earlier)."""
    ref = battery.references[ref_name]
    name = signal.Signals(signum).name.lower()
    for attempt in range(TRIES):
        trial = battery.trial(name + ("x2" if twice else ""), config)
        proc = trial.new_run()
        run_id = trial.run_id(proc)
        moment = battery.at(ref, 0.1, 0.8, 0.6**attempt)
        sleep_until(proc.started + moment)
        calls_before = _calls(trial, run_id or "")
        sent = time.monotonic()
        landed = proc.signal(signum)
        if twice:
            time.sleep(0.5)
            proc.signal(signum)
        code = proc.wait(60)
        stop_s = time.monotonic() - sent
        if code is None:
            proc.kill()
        if landed or attempt + 1 == TRIES:
            break
    output = proc.output()
    hint = f"clade run --resume {run_id}" in output.split("stopping", 1)[-1]
    calls_after = _calls(trial, run_id or "")
    resume_rc = trial.complete(trial.resume(run_id or ""))
    ok = landed and code not in (None, 0) and hint and stop_s <= STOP_LIMIT_S
    return battery.judge(
        trial, run_id, ref, kind=name, twice=twice, at_s=round(moment, 2), exit_code=code,
        stop_s=round(stop_s, 2), resume_hint=hint, calls_after_signal=calls_after - calls_before,
        stopped_ok=ok, resume_rc=resume_rc, landed=landed,
    )  # fmt: skip


def concurrent_trials(battery: Battery, ref_name: str, config: Any) -> list[dict[str, Any]]:
    """A resume while the run works; two resumes at once after a SIGKILL. The second
    process must refuse (non-zero, one line naming the holder); nothing is duplicated."""
    ref = battery.references[ref_name]
    results = []
    trial = battery.trial("resume-while-running", config)
    first = trial.new_run()
    run_id = trial.run_id(first)
    sleep_until(first.started + battery.at(ref, 0.1, 0.5))
    second = trial.resume(run_id or "")
    second_rc = trial.complete(second, 120)
    first_rc = trial.complete(first)
    refused = second_rc != 0 and "already being worked on" in second.output()
    results.append(battery.judge(
        trial, run_id, ref, kind="concurrent", first_rc=first_rc, second_rc=second_rc,
        refused=refused, refusal=second.output().strip().splitlines()[-1:],
    ))  # fmt: skip

    trial = battery.trial("two-resumes", config)
    proc = trial.new_run()
    run_id = trial.run_id(proc)
    sleep_until(proc.started + battery.at(ref, 0.1, 0.6))
    proc.kill()
    pair = [trial.resume(run_id or ""), trial.resume(run_id or "")]
    codes = sorted(trial.complete(p) for p in pair)
    losers = [p for p in pair if p.popen.returncode != 0]
    refused = (
        codes[0] == 0
        and codes[1] != 0
        and all("already being worked on" in p.output() for p in losers)
    )
    results.append(
        battery.judge(trial, run_id, ref, kind="concurrent", codes=codes, refused=refused)
    )
    return results


def empty_resume(battery: Battery) -> dict[str, Any]:
    """``clade run --resume ""`` is an error (exit 2), never a new run."""
    trial = battery.trial("empty-resume", battery.config("empty"))
    proc = trial.start("run", "--resume", "")
    code = trial.complete(proc, 120)
    with trial.archive() as archive:
        runs = len(archive.list_runs())
    result = {"trial": trial.name, "kind": "empty-resume", "exit_code": code, "runs_made": runs,
              "ok": code == 2 and runs == 0, "output": proc.output().strip()[-300:]}  # fmt: skip
    battery.results.append(result)
    return result
