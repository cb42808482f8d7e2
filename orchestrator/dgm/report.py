"""What a run shows its user: a live status line while it works, a summary at the end."""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any

from clade.archive.facade import Archive

from .config import RunConfig


class Progress:
    """A live line (generation, children in flight, evaluations, best score, tokens, cost)
    under a log of events; ``emit`` is called from the graph's worker threads."""

    def __init__(self, console: Any, archive: Archive, run_id: str, config: RunConfig) -> None:
        self.console, self.archive, self.run_id, self.config = console, archive, run_id, config
        self.generation, self.in_flight, self.evaluated = 0, 0, 0
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._live: Any = None

    def __enter__(self) -> Progress:
        from rich.live import Live

        self._live = Live(self._line(), console=self.console, refresh_per_second=2, transient=True)
        self._live.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._live.__exit__(exc_type, exc, tb)

    def ask_approval(self, question: dict[str, Any]) -> bool:
        """Show a child's diff and ask whether to evaluate it (the live line steps aside)."""
        import typer
        from rich.syntax import Syntax

        with self._lock:
            self._live.stop()
            try:
                self.console.rule(
                    f"child {question['key']} ({question['candidate']}) of {question['parent']}"
                )
                self.console.print(
                    Syntax(question["diff"] or "(no change)", "diff", word_wrap=True)
                )
                return typer.confirm("Evaluate this child?", default=True)
            finally:
                self._live.start()

    def _line(self) -> str:
        tokens, usd = self.archive.run_usage(self.run_id)
        best = max((s.score for s in self.archive.selection_inputs(self.run_id)), default=None)
        best_text = "-" if best is None else f"{best:.3f}"
        return (
            f"[bold]generation {self.generation}/{self.config.budget.generations}[/] · "
            f"children in flight {self.in_flight} · evaluations {self.evaluated} · best {best_text} · "
            f"tokens {tokens:,} · ${usd:.4f} · {time.monotonic() - self.started:.0f}s"
        )

    def emit(self, event: dict[str, Any]) -> None:
        with self._lock:
            kind = event.get("event")
            if kind == "generation":
                self.generation = event["generation"]
                self.in_flight = len(event["parents"])
                self.console.print(
                    f"generation {self.generation}: parents {', '.join(p[:8] for p in event['parents'])}"
                )
            elif kind == "evaluated":
                self.evaluated += event["tasks"]
            elif kind == "seed":
                self.console.print(
                    f"seed {event['candidate'][:8]} evaluated: score {event['score']:.3f}"
                )
            elif kind == "child":
                self.in_flight = max(0, self.in_flight - 1)
                who = event.get("candidate", event.get("key", ""))[:8]
                score = f" score {event['score']:.3f}" if event.get("score") is not None else ""
                reason = f" ({event['reason']})" if event.get("reason") else ""
                self.console.print(f"  child {who}: {event['status']}{score}{reason}")
            elif kind == "finished":
                self.console.print(f"stopped: {event.get('reason')}")
            if self._live is not None:
                self._live.update(self._line())


def summary(console: Any, archive: Archive, run_id: str, config: RunConfig) -> None:
    """Best candidate, its lineage, gain over the seed per evaluator, tokens, cost, time."""
    from rich.table import Table

    rows = archive.list_candidates(run_id)
    if not rows:
        console.print("the run recorded no candidate")
        return
    seed = rows[0]
    admitted = [r for r in rows if r.status == "admitted" and r.score is not None]
    best = max(admitted, key=lambda r: r.score or 0.0, default=seed)
    tokens, usd = archive.run_usage(run_id)
    record = archive.get_run(run_id)
    finished = record.finished_at or record.created_at
    table = Table(title=f"run {run_id}", show_header=False)
    table.add_row("candidates", f"{len(rows)} ({len(admitted)} admitted)")
    table.add_row("best", f"{best.id} (generation {best.generation})")
    table.add_row("lineage", " -> ".join(r.id[:8] for r in archive.lineage(best.id)))
    for name in sorted(set(seed.scores) | set(best.scores)):
        before, after = seed.scores.get(name, 0.0), best.scores.get(name, 0.0)
        table.add_row(name, f"{before:.3f} -> {after:.3f} ({after - before:+.3f} over the seed)")
    table.add_row("tokens", f"{tokens:,}")
    table.add_row("cost", f"${usd:.4f}")
    table.add_row("time", f"{(finished - record.created_at).total_seconds():.0f}s")
    console.print(table)
    console.print(
        f"see the tree with `clade archive tree {run_id}`, a child's change with `clade archive diff`"
    )
