"""The stores the archive facade is composed of, and the one-line delegation to them.

Each store owns one kind of record and takes only the :class:`~.transactions.Database`
(and the blob store, where it writes logs or checks a tree): runs and candidates
(:class:`~.runs.RunStore`), evaluations and their per-candidate totals
(:class:`~.evaluations.EvaluationStore`), model calls (:class:`~.calls.CallStore`),
meta-prompt versions (:class:`~.prompts.PromptStore`), traces (:class:`~.traces.TraceStore`);
trees and logs are the :class:`~.blobs.BlobStore`. The reads over them are stores too:
listings, lineage and curves (:class:`~.queries.QueryStore`), what selection reads
(:class:`~.selection.SelectionStore`) and where a run stands
(:class:`~.progress.ProgressStore`). No store inherits from another or re-declares another's
methods: one that needs another's rows takes that store (``QueryStore`` takes the runs).

The facade keeps its flat methods (``archive.record_model_call(...)``) as delegations made
by :func:`delegate`, so they keep their signatures, types and docstrings.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

if TYPE_CHECKING:
    from clade.archive.blobs import BlobStore
    from clade.archive.calls import CallStore
    from clade.archive.evaluations import EvaluationStore
    from clade.archive.progress import ProgressStore
    from clade.archive.prompts import PromptStore
    from clade.archive.queries import QueryStore
    from clade.archive.runs import RunStore
    from clade.archive.selection import SelectionStore
    from clade.archive.traces import TraceStore

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S")


@dataclass(frozen=True, slots=True)
class Stores:
    """The archive's stores, one per kind of record."""

    blobs: BlobStore
    runs: RunStore
    queries: QueryStore
    selection: SelectionStore
    progress: ProgressStore
    evaluations: EvaluationStore
    calls: CallStore
    prompts: PromptStore
    traces: TraceStore


def delegate(store: str, method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[Any, P], R]:  # fmt: skip
    """A facade method that calls ``method`` on the facade's ``stores.<store>``."""

    @functools.wraps(method)
    def forward(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return method(getattr(self.stores, store), *args, **kwargs)

    return forward
