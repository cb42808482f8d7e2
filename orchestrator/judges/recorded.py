"""A judge run over pairs, recorded in the archive (what `clade judge` does), from Python.

    judged = judge_recorded(archive, pairs, method="selective", model="smollm2-135m")
    judged.metrics.accuracy, judged.run_id

The run is of kind ``judge``: every model call, one ``trace`` per pair and every version of
the judge's meta-prompt M (kept under ``name``, so a later run can resume it) go to the
archive. With ``gold`` pairs, every version of M is scored on them (``judged.gold``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .caller import Caller
from .lwe import LWEConfig
from .runner import Method, Metrics, PairResult, build_judge, judge_pairs, metrics
from .store import ArchiveStore
from .verdict import Decision, Pair

if TYPE_CHECKING:
    from clade.archive.facade import Archive

    from .drift import GoldReport
    from .gold import GoldPair


@dataclass(frozen=True)
class GoldOptions:
    """What to score every version of M on, and how much it may lose."""

    pairs: list[GoldPair]
    dropped: int = 0  # gold pairs left out because the judge sees their questions
    tolerance: float | None = None  # refuse an update of M that loses more agreement
    file: Path | None = None  # where the pairs came from (None: the shipped set)


@dataclass(frozen=True)
class Judged:
    """A recorded judge run: a result per pair, the metrics, and the gold reports."""

    run_id: str
    results: list[PairResult]
    metrics: Metrics
    gold: list[GoldReport] = field(default_factory=list)


def judge_recorded(
    archive: Archive,
    pairs: Sequence[Pair],
    *,
    method: Method,
    model: str,
    label: str = "pairs",
    name: str = "default",
    resume: bool = False,
    both_orders: bool = False,
    gold: GoldOptions | None = None,
    on_result: Callable[[PairResult], None] | None = None,
    meta_prompt: str | None = None,
) -> Judged:
    """Judge ``pairs`` with a ``method`` judge on ``model`` (in both orders with
    ``both_orders``), recording the run in ``archive``; ``on_result`` sees each pair's result
    as soon as it is recorded; ``meta_prompt``: the first M of a learning judge (default: the
    shipped seed). A run that raises is marked failed."""
    from clade.orchestrator.models.layer import ModelLayer
    from clade.orchestrator.models.metering import ArchiveSink
    from clade.orchestrator.models.spec import ModelsConfig

    run = archive.create_run(
        name=f"judge {method} {label}",
        kind="judge",
        config={"method": method, "model": model, "name": name, "resume": resume,
                "swap": both_orders, "meta_prompt": meta_prompt,
                "gold": {"pairs": len(gold.pairs), "dropped": gold.dropped,
                         "tolerance": gold.tolerance,
                         "file": str(gold.file) if gold.file else None} if gold else None},
    )  # fmt: skip
    layer = ModelLayer(
        ModelsConfig.model_validate({"default": {"model": model}}),
        sink=ArchiveSink(archive),
        run_id=run.id,
    )
    caller = Caller(layer, run_id=run.id)
    scorer = None
    if gold is not None:
        from .drift import GoldScorer

        scorer = GoldScorer(gold.pairs, Caller(layer, run_id=run.id), method=method)
    store = ArchiveStore(archive, name, run.id)
    status = "failed"
    try:
        judge = build_judge(  # with gold: scores the seed (or the vanilla judge) first
            method,
            caller,
            store,
            config=LWEConfig(gold_tolerance=gold.tolerance if gold else None),
            resume=resume,
            gold=scorer,
            seed=meta_prompt,
        )

        def on_item(result: PairResult, decisions: list[Decision]) -> None:
            archive.record_trace(
                "judge", result.id, [d.model_dump() for d in decisions], answer=result.verdict,
                run_id=run.id, calls=result.calls, tokens=result.tokens,
                meta={"method": method, "label": result.label},
            )  # fmt: skip
            if on_result is not None:
                on_result(result)

        results = judge_pairs(judge, caller, list(pairs), both_orders=both_orders, on_item=on_item)
        status = "finished"
    finally:
        archive.finish_run(run.id, status)
    return Judged(run.id, results, metrics(results, caller), list(store.gold))
