"""In-process runs of the DGM graph: a real archive and a real SQLite checkpointer under
``tmp_path``, a run config on word-sorting, and the test's own steps in place of models and
sandboxes (shared by the graph, admission, procedure and attempts tests; import it as
``tests.inprocess_runs``).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from clade.archive.facade import Archive
from clade.orchestrator.dgm.config import RunConfig
from clade.orchestrator.dgm.graph import DGMRun, build_graph


def archive_in(tmp_path: Path) -> Archive:
    """An SQLite archive (and its blob store) in ``tmp_path``."""
    return Archive(f"sqlite:///{tmp_path / 'clade.db'}", tmp_path / "blobs")


def trees_in(tmp_path: Path) -> Path:
    """The folder the steps build candidate trees in (created)."""
    (tmp_path / "trees").mkdir(exist_ok=True)
    return tmp_path / "trees"


def word_sorting_config(
    stages: list[dict[str, Any]],
    *,
    n: int = 40,
    children: int = 2,
    generations: int = 2,
    evaluation: dict[str, Any] | None = None,
    selection: dict[str, Any] | None = None,
    **sections: Any,
) -> RunConfig:
    """A run on word-sorting (``n`` words), parents by ``best``; ``evaluation`` and ``selection``
    add to those sections, ``sections`` (``review``, ``improvement``, ...) go in as given."""
    return RunConfig.model_validate(
        {
            "evaluation": {
                "evaluator": "word-sorting",
                "options": {"n": n},
                "stages": stages,
                **(evaluation or {}),
            },
            "selection": {
                "policy": "best",
                "children_per_generation": children,
                **(selection or {}),
            },
            "budget": {"generations": generations},
            **sections,
        }
    )


def start_run(archive: Archive, config: RunConfig, evaluator: Any, steps: Any, **kwargs: Any) -> tuple[str, DGMRun]:  # fmt: skip
    """Record a run of ``config`` and its :class:`DGMRun` (``kwargs``: ``emit``, ...)."""
    run = archive.create_run(name="t", config=config.model_dump(mode="json"))
    return run.id, DGMRun(archive, config, evaluator, steps, **kwargs)


def invoke(dgm: DGMRun, run_id: str, checkpoints: Path | Any, *, resume: bool = False, **options: Any) -> Any:  # fmt: skip
    """Run the graph to its end (or resume it) with the checkpointer ``checkpoints``, or a
    SQLite one in the file ``checkpoints`` (``options``: ``max_concurrency``, ...)."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    config = {"configurable": {"thread_id": run_id}, **options}
    state = None if resume else {"run_id": run_id}
    if not isinstance(checkpoints, Path):
        return build_graph(dgm, checkpoints).invoke(state, config, durability="sync")
    connection = sqlite3.connect(checkpoints, check_same_thread=False)
    try:
        return build_graph(dgm, SqliteSaver(connection)).invoke(state, config, durability="sync")
    finally:
        connection.close()
