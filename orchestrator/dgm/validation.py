"""Admission by validation: a child is better only when held-out dev tasks say so.

With the run option ``selection.admit: validation``, a child that passes the other rules
of admission is scored, with its parent, on the **validation tasks**: the
``selection.validation_tasks`` tasks of the dev split that come after the last stage's
(stages take prefixes of the split, so these are never evaluated for selection). The child
is admitted only when the lower end of the paired bootstrap interval of its gain
(:func:`~.heldout.paired_bootstrap`, at ``selection.confidence``) is above 0 and the exact
sign test of the tasks it won against those it lost (:func:`~.heldout.sign_test`) agrees at
the same level: the bootstrap alone admits 3 tasks won and none lost of 20 (p = 1/8).

Why carve them from the dev split rather than ask evaluators for a third split: every
evaluator has dev tasks to spare, and none has to change. The evaluations are recorded
under the split ``val``, which no :class:`~.ledger.Ledger` of selection reads: selection,
diagnosis, mutation and the experience store see ``dev`` only, so a prompt that copies the
failures it was shown (GEPA users' "prompts copy training data") gains nothing here. A
parent's validation scores are recorded once and reused for all its children; a resumed
run redoes none of them (evaluations are unique per candidate, split, task and attempt).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from clade.archive.errors import ConfigError

from .heldout import paired_bootstrap, score_on_split, sign_test

if TYPE_CHECKING:
    from clade.archive.facade import Archive
    from clade.archive.tables import Candidate
    from clade.orchestrator.evaluators.base import Evaluator, Task

    from .config import RunConfig
    from .protocol import Steps

#: The split validation evaluations are recorded under.
VALIDATION: Final = "val"


def validation_tasks(evaluator: Evaluator, config: RunConfig) -> list[Task]:
    """The run's validation tasks: the dev tasks after the last stage's (ConfigError when
    the split is too short)."""
    tasks = evaluator.tasks(config.evaluation.split)
    start, wanted = config.evaluation.stages[-1].tasks, config.selection.validation_tasks
    carved = tasks[start : start + wanted]
    if len(carved) < wanted:
        raise ConfigError(
            f"selection.admit: validation needs {start + wanted} {config.evaluation.split} "
            f"tasks ({start} for the stages, {wanted} to validate); "
            f"{evaluator.name} has {len(tasks)}",
            hint="lower selection.validation_tasks or the last stage's tasks, or draw more "
            "tasks (evaluation.options)",
        )
    return carved


def validation_verdict(
    archive: Archive,
    steps: Steps,
    evaluator: Evaluator,
    config: RunConfig,
    child: Candidate,
    emit: Callable[[dict[str, Any]], None],
) -> str | None:
    """None when ``child`` beats its parent on the validation tasks (the paired bound's
    lower end is above 0); else the reason it does not."""
    assert child.parent_id is not None
    parent = archive.get_candidate(child.parent_id)
    tasks = validation_tasks(evaluator, config)
    before = score_on_split(archive, steps, evaluator, parent, tasks, split=VALIDATION)
    after = score_on_split(archive, steps, evaluator, child, tasks, split=VALIDATION)
    confidence = config.selection.confidence
    low, high = paired_bootstrap(before, after, confidence=confidence, seed=config.seed)
    gain = (sum(after) - sum(before)) / len(tasks)
    p_value = sign_test(before, after)
    emit(
        {
            "event": "validated",
            "candidate": child.id,
            "parent": parent.id,
            "tasks": len(tasks),
            "gain": gain,
            "ci_low": low,
            "ci_high": high,
            "p": p_value,
        }
    )
    tail = (1 - confidence) / 2  # the interval's lower tail: the same level for both
    if low > 0 and p_value <= tail:
        return None
    if low <= 0:
        return (
            f"validation gain {gain:+.3f} on {len(tasks)} tasks: its lower bound "
            f"({confidence:.0%}) {low:+.3f} is not above 0"
        )
    return (
        f"validation gain {gain:+.3f} on {len(tasks)} tasks: too few tasks differ (sign "
        f"test p = {p_value:.3f} > {tail:.3f})"
    )
