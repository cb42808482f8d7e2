"""The archive's typed facade: what the rest of Clade calls to record and read a run.

``Archive(url, blob_dir)`` opens (and migrates) the database and the blob store. Every
write is one transaction: it lands whole or not at all. The facade is composed of stores
(``archive.stores``: blobs, runs and candidates, the reads over them, evaluations, model
calls, meta-prompts, traces; stores.py) over one :class:`~.transactions.Database`; its flat
methods delegate to them.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from clade.archive.blobs import BlobStore, TreePart, Upstream, in_part, unified_diff
from clade.archive.calls import CallStore
from clade.archive.evaluations import EvaluationStore
from clade.archive.progress import ProgressStore
from clade.archive.prompts import PromptStore
from clade.archive.queries import QueryStore
from clade.archive.runs import RunStore
from clade.archive.selection import SelectionStore
from clade.archive.stores import Stores, delegate
from clade.archive.traces import TraceStore
from clade.archive.transactions import Database

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.engine import Connection
    from sqlmodel import Session

    from clade.archive.lock import RunLock


class Archive:
    """A run archive: a database at `url` and candidate trees and logs under `blob_dir`."""

    def __init__(
        self,
        url: str,
        blob_dir: Path | str,
        *,
        wait_s: float = 300.0,
        blob_upstream: Upstream | None = None,
    ) -> None:
        """``blob_upstream``: the blob store ``blob_dir`` caches (a Ray worker's view of the
        orchestrator's blobs, see ``blobs.Upstream``); None: ``blob_dir`` is the store."""
        self.db = Database(url, wait_s=wait_s)
        self.url, self.engine = url, self.db.engine
        self.blobs = BlobStore(Path(blob_dir), blob_upstream)
        runs = RunStore(self.db, self.blobs)
        self.stores = Stores(
            blobs=self.blobs,
            runs=runs,
            queries=QueryStore(self.db, runs),
            selection=SelectionStore(self.db),
            progress=ProgressStore(self.db),
            evaluations=EvaluationStore(self.db, self.blobs),
            calls=CallStore(self.db),
            prompts=PromptStore(self.db),
            traces=TraceStore(self.db),
        )

    @property
    def wait_s(self) -> float:
        """How long a transaction waits for a database that is locked or restarting."""
        return self.db.wait_s

    @wait_s.setter
    def wait_s(self, seconds: float) -> None:
        self.db.wait_s = seconds

    def close(self) -> None:
        self.db.close()

    def lock_run(self, run_id: str, on_lost: Callable[[str], None] | None = None) -> RunLock:
        """A lock on ``run_id`` held by this process (use it as a context manager);
        :class:`~clade.archive.errors.RunLocked` when a live process holds it."""
        from clade.archive.lock import RunLock

        return RunLock(self.engine, self.url, run_id, on_lost)

    def stop_writes(self, reason: str) -> None:
        """Refuse every later write with :class:`RunStopped`: work still in flight after a
        stop signal cannot record half-finished results (it runs again on resume)."""
        self.db.stop_writes(reason)

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop_writes` was called (the run is stopping)."""
        return self.db.stopping

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions (see transactions.py) --------------------------------------------
    def _read(self) -> AbstractContextManager[Connection]:
        return self.db.read()

    def _read_session(self) -> AbstractContextManager[Session]:
        return self.db.read_session()

    def _write(self) -> AbstractContextManager[Session]:
        return self.db.write()

    # -- evaluations (evaluations.py) -------------------------------------------------
    add_evaluation = delegate("evaluations", EvaluationStore.add)
    add_evaluations = delegate("evaluations", EvaluationStore.add_many)
    rebuild_scores = delegate("evaluations", EvaluationStore.rebuild_scores)
    evaluations = delegate("evaluations", EvaluationStore.rows)
    task_results = delegate("evaluations", EvaluationStore.task_results)
    attempt_rows = delegate("evaluations", EvaluationStore.attempt_rows)

    # -- model calls, meta-prompt versions and traces (calls.py, prompts.py, traces.py) --
    record_model_call = delegate("calls", CallStore.record)
    call_usage = delegate("calls", CallStore.usage)
    usage_by_candidate = delegate("calls", CallStore.usage_by_candidate)
    run_usage = delegate("calls", CallStore.run_usage)
    add_meta_prompt_version = delegate("prompts", PromptStore.add)
    meta_prompt_versions = delegate("prompts", PromptStore.versions)
    latest_meta_prompt = delegate("prompts", PromptStore.latest)
    record_trace = delegate("traces", TraceStore.record)
    traces = delegate("traces", TraceStore.filter)
    get_trace = delegate("traces", TraceStore.get)

    # -- runs and candidates (runs.py) ----------------------------------------------
    create_run = delegate("runs", RunStore.create_run)
    finish_run = delegate("runs", RunStore.finish_run)
    set_run_config = delegate("runs", RunStore.set_run_config)
    get_run = delegate("runs", RunStore.get_run)
    get_candidate = delegate("runs", RunStore.get_candidate)
    add_candidate = delegate("runs", RunStore.add_candidate)
    set_status = delegate("runs", RunStore.set_status)

    # -- reads: listings, lineage, curves, matrices (queries.py), selection's data
    # (selection.py), where a run stands (progress.py) -----------------------------------
    resolve_id = delegate("queries", QueryStore.resolve_id)
    latest_run_id = delegate("queries", QueryStore.latest_run_id)
    list_runs = delegate("queries", QueryStore.list_runs)
    list_candidates = delegate("queries", QueryStore.list_candidates)
    candidate_row = delegate("queries", QueryStore.candidate_row)
    children_counts = delegate("queries", QueryStore.children_counts)
    lineage = delegate("queries", QueryStore.lineage)
    tree = delegate("queries", QueryStore.tree)
    best_so_far = delegate("queries", QueryStore.best_so_far)
    evaluators = delegate("queries", QueryStore.evaluators)
    score_matrix = delegate("queries", QueryStore.score_matrix)
    show = delegate("queries", QueryStore.show)
    clade_stats = delegate("selection", SelectionStore.clade_stats)
    selection_inputs = delegate("selection", SelectionStore.selection_inputs)
    find_candidate = delegate("progress", ProgressStore.find_candidate)
    run_activity = delegate("progress", ProgressStore.run_activity)

    # -- trees and logs ----------------------------------------------------------------
    def put_tree(self, root: Path | str) -> str:
        return self.blobs.put_tree(Path(root))

    def export_tree(self, tree_hash: str, dest: Path | str) -> Path:
        return self.blobs.export_tree(tree_hash, Path(dest))

    def export_candidate(self, candidate_id: str, dest: Path | str) -> Path:
        return self.export_tree(self.get_candidate(candidate_id).tree_hash, dest)

    def put_log(self, log: str | bytes) -> str:
        return self.blobs.put(log.encode() if isinstance(log, str) else log, "log")

    def get_log(self, log_hash: str) -> str:
        return self.blobs.get(log_hash, "log").decode(errors="replace")

    def diff(self, a: str, b: str, part: TreePart = "all") -> str:
        """Unified diff from candidate `a`'s tree to candidate `b`'s: every file, or only
        those of the improvement procedure (``meta``, the ``meta/`` folder) or the rest
        (``task``)."""
        old, new = self.get_candidate(a), self.get_candidate(b)
        old_files, new_files = self.blobs.files(old.tree_hash), self.blobs.files(new.tree_hash)
        return unified_diff(old_files, new_files, a, b, part)

    def diff_parts(self, a: str, b: str) -> list[tuple[TreePart, str]]:
        """The diff from `a` to `b` by part: ``[("all", diff)]`` when neither tree holds an
        improvement procedure (``meta/``), else the ``meta`` part's and the ``task`` part's."""
        old, new = self.get_candidate(a), self.get_candidate(b)
        old_files, new_files = self.blobs.files(old.tree_hash), self.blobs.files(new.tree_hash)
        if not any(in_part(path, "meta") for path in (*old_files, *new_files)):
            return [("all", unified_diff(old_files, new_files, a, b))]
        parts: tuple[TreePart, ...] = ("meta", "task")
        return [(part, unified_diff(old_files, new_files, a, b, part)) for part in parts]

    # -- whole runs --------------------------------------------------------------------
    def export_run(self, run_id: str, path: Path | str) -> int:
        """Write a run, its rows and its blobs to a JSON-lines file; returns the line count."""
        from clade.archive.jsonl import export_run

        return export_run(self, run_id, Path(path))

    def import_run(self, path: Path | str) -> str:
        """Read a JSON-lines export into this archive (validated, one transaction)."""
        from clade.archive.jsonl import import_run

        return import_run(self, Path(path))
