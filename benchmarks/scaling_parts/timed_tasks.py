"""Word sorting whose children take a set time, for benchmarks/scaling.py (a plugin).

``scaling_parts.timed_tasks:TimedWordSorting`` is the ``word-sorting`` evaluator with more
options: ``seconds`` (how long evaluating one child takes, besides the real work),
``spread`` (0: fixed; else each child's time is drawn uniformly from ``seconds +-
spread``), ``time_seed`` and ``children_per_generation`` (to number sync keys). :func:`timed_steps` is a steps factory: the real steps of
``launch.real_steps`` (scripted model, gateway, Docker sandboxes), whose ``evaluate`` also
sleeps the child's time. The time belongs to the child, not to a task (every child sees
the same stage of tasks), so it is drawn by the child's number: child ``n`` is ``a<n>`` in
the async loop and ``g<n // k + 1>c<n % k>`` in the sync one, and both loops meet the same
times in the same order. The seed takes no extra time. Nothing is skipped: every task is
still run in a sandbox and graded.

Both are imported by name on the Ray workers: ``benchmarks/`` must be on their PYTHONPATH.
"""

from __future__ import annotations

import random
import re
import time
from typing import Any

from pydantic import Field

from clade.orchestrator.evaluators.generated import WordSorting


class TimedWordSorting(WordSorting):
    name = "timed-word-sorting"

    class Config(WordSorting.Config):
        seconds: float = Field(default=10.0, ge=0, description="A child's extra evaluation time.")
        spread: float = Field(default=0.0, ge=0, description="0: fixed; else +- this, uniform.")
        time_seed: int = Field(default=0, description="Seed of the varied times.")
        children_per_generation: int = Field(default=2, ge=1, description="k of the sync keys.")

    def child_seconds(self, key: str) -> float:
        """The extra time of the child ``key`` (the seed: none)."""
        config = self.config
        assert isinstance(config, TimedWordSorting.Config)
        sync = re.fullmatch(r"g(\d+)c(\d+)", key)
        if sync:
            number = (int(sync[1]) - 1) * config.children_per_generation + int(sync[2])
        elif re.fullmatch(r"a\d+", key):
            number = int(key[1:])
        else:
            return 0.0
        if config.spread == 0:
            return config.seconds
        draw = random.Random(f"{config.time_seed}:{number}").uniform(-1.0, 1.0)
        return max(0.0, config.seconds + config.spread * draw)


class _TimedSteps:
    def __init__(self, steps: Any, evaluator: TimedWordSorting) -> None:
        self._steps, self._evaluator = steps, evaluator

    def __getattr__(self, name: str) -> Any:
        return getattr(self._steps, name)

    def evaluate(self, candidate: Any, tasks: list[Any]) -> Any:
        scored = self._steps.evaluate(candidate, tasks)
        time.sleep(self._evaluator.child_seconds(str(candidate.meta.get("key", ""))))
        return scored


def timed_steps(archive: Any, run_id: str, config: Any, evaluator: Any) -> Any:
    """``launch.real_steps``, with each child's evaluation taking its set time more."""
    from clade.orchestrator.dgm.launch import real_steps

    steps = real_steps(archive, run_id, config, evaluator)
    return _TimedSteps(steps, evaluator) if isinstance(evaluator, TimedWordSorting) else steps
