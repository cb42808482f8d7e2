"""What every trial shares: the run config, the undisturbed reference runs, the verdict.

A trial disturbs one run, lets it (or its resume) finish, and is judged against the
reference run of the same config and seed: :func:`~.harness.compare` must find nothing,
and nothing of the trial may be left behind (:meth:`~.harness.Trial.leftovers`).
"""

from __future__ import annotations

import copy
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .harness import Trial, TrialError, compare, extra_calls, fingerprint

#: The config the issue's trials used: word sorting, 3 generations of 2 children,
#: parallelism 2, the scripted model of examples/scripted_agent.py.
BASE: dict[str, Any] = {
    **yaml.safe_load((Path(__file__).parents[2] / "examples" / "scripted_run.yaml").read_text()),
    "name": "reliability",
}
NOISE = ("Task was destroyed but it is pending", "coroutine already executing",
         "bound to a different event loop", "Traceback (most recent call last)")  # fmt: skip


@dataclass
class Reference:
    fingerprint: dict[str, Any]
    wall_s: float
    started_s: float  # from process start to the run id on its output
    tokens: int


@dataclass
class Battery:
    root: Path
    image: str
    seed: int = 0
    generations: int = 3
    references: dict[str, Reference] = field(default_factory=dict)
    results: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self._count = 0

    # -- configs and references ----------------------------------------------------------
    def config(self, name: str, **changes: Any) -> Path:
        data = copy.deepcopy(BASE)
        data["sandbox"]["image"] = self.image
        data["budget"]["generations"] = self.generations
        for dotted, value in changes.items():
            node = data
            *parents, leaf = dotted.split("__")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
        path = self.root / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data))
        return path

    def trial(self, kind: str, config: Path, **env: str) -> Trial:
        self._count += 1
        return Trial(self.root, f"{self._count:02d}-{kind}", config, dict(env))

    def reference(self, name: str, config: Path, **env: str) -> Reference:
        if name in self.references:
            return self.references[name]
        trial = self.trial(f"reference-{name}", config, **env)
        proc = trial.new_run()
        run_id = trial.run_id(proc)
        started = time.monotonic() - proc.started
        code = trial.complete(proc)
        wall = time.monotonic() - proc.started
        if code != 0 or run_id is None:
            raise TrialError(f"the reference run failed ({code}):\n{proc.output()[-3000:]}")
        with trial.archive() as archive:
            ref = Reference(fingerprint(archive, run_id), wall, started,
                            archive.run_usage(run_id)[0])  # fmt: skip
        noise = [n for n in NOISE if n in proc.output()]
        self.results.append({"trial": trial.name, "kind": "reference", "wall_s": round(wall, 1),
                             "candidates": len(ref.fingerprint["candidates"]),
                             "calls": ref.fingerprint["calls"], "noise": noise})  # fmt: skip
        self.references[name] = ref
        return ref

    # -- judging ---------------------------------------------------------------------------
    def judge(
        self, trial: Trial, run_id: str | None, ref: Reference, **facts: Any
    ) -> dict[str, Any]:
        """Compare the trial's run with the reference, count leftovers, record the result."""
        if run_id is None:
            raise TrialError(f"{trial.name}: no run id")
        with trial.archive() as archive:
            got = fingerprint(archive, run_id)
            tokens = archive.run_usage(run_id)[0]
        diffs = compare(ref.fingerprint, got)
        left = trial.leftovers(run_id)
        noise = sorted({n for p in trial.procs for n in NOISE if n in p.output()})
        result = {
            "trial": trial.name, "identical": not diffs, "differences": diffs[:8],
            "extra_calls": extra_calls(ref.fingerprint, got), "tokens": tokens,
            "failed_calls": got["failed_calls"],
            "leftovers": left, "noise": noise, **facts,
        }  # fmt: skip
        self.results.append(result)
        print(json.dumps(result), flush=True)
        return result

    def at(self, ref: Reference, low: float = 0.0, high: float = 1.0, scale: float = 1.0) -> float:
        """A uniformly random moment of a run, in seconds from its process start: between
        ``low`` and ``high`` of the reference's length, times ``scale`` (a trial that missed
        because the machine got faster than the reference tries again, scaled down)."""
        start = ref.started_s + 0.2
        span = (ref.wall_s - start) * scale
        return self.rng.uniform(start + low * span, start + high * span)


def sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.monotonic()))
