"""What a run shows its user while it works, and a summary at the end.

On a terminal: a live status line (generation, children in flight, evaluations, best
score, tokens, cost) under a log of events. Without one (a log file, CI, a pipe): one
timestamped line per event as it happens (seed, generation, child, evaluation done,
stop), flushed at once, so a long run is never silent. Candidates are named by their key
in the run (``seed``, ``g1c0``): two siblings made in the same second share the first
characters of their ids, never their keys.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from clade.archive.facade import Archive

from .config import RunConfig


def _stamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")


class Names:
    """A candidate's name for people: its key in the run, else its shortest unique prefix."""

    def __init__(self, archive: Archive, run_id: str) -> None:
        self.archive, self.run_id = archive, run_id
        self._keys: dict[str, str] = {}

    def __call__(self, candidate_id: str) -> str:
        if candidate_id not in self._keys:
            try:
                key = self.archive.get_candidate(candidate_id).meta.get("key")
            except Exception:  # a name is never worth failing the run
                key = None
            if not key:
                return self.prefix(candidate_id)
            self._keys[candidate_id] = str(key)
        return self._keys[candidate_id]

    def prefix(self, candidate_id: str) -> str:
        others = [r.id for r in self.archive.list_candidates(self.run_id) if r.id != candidate_id]
        for size in range(8, len(candidate_id) + 1):
            if not any(o.startswith(candidate_id[:size]) for o in others):
                return candidate_id[:size]
        return candidate_id


class Progress:
    """Shows a run's events; ``emit`` is called from the graph's worker threads."""

    def __init__(self, console: Any, archive: Archive, run_id: str, config: RunConfig) -> None:
        self.console, self.archive, self.run_id, self.config = console, archive, run_id, config
        self.generation, self.in_flight, self.evaluated = 0, 0, 0
        self.children_started = 0  # the async loop's counter (it has no generations)
        self.started = time.monotonic()
        self.live = bool(console.is_terminal)
        self.name = Names(archive, run_id)
        self._lock = threading.Lock()
        self._live: Any = None

    def __enter__(self) -> Progress:
        if self.live:
            from rich.live import Live

            self._live = Live(
                self._line(), console=self.console, refresh_per_second=2, transient=True
            )
            self._live.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self._live is not None:
            self._live.__exit__(*exc_info)

    def ask_approval(self, question: dict[str, Any]) -> bool:
        """Show a child's diff and ask whether to evaluate it (the live line steps aside)."""
        import typer
        from rich.syntax import Syntax

        with self._lock:
            if self._live is not None:
                self._live.stop()
            try:
                self.console.rule(
                    f"child {question['key']} ({question['candidate']}) of "
                    f"{self.name(question['parent'])}"
                )
                self.console.print(
                    Syntax(question["diff"] or "(no change)", "diff", word_wrap=True)
                )
                return typer.confirm("Evaluate this child?", default=True)
            finally:
                if self._live is not None:
                    self._live.start()

    def _line(self) -> str:
        tokens, usd = self.archive.run_usage(self.run_id)
        best = max((s.score for s in self.archive.selection_inputs(self.run_id)), default=None)
        best_text = "-" if best is None else f"{best:.3f}"
        budget = self.config.budget
        head = (
            f"generation {self.generation}/{budget.generations}"
            if self.config.loop == "sync"
            else f"child {self.children_started}/"
            f"{budget.generations * self.config.selection.children_per_generation}"
        )
        return (
            f"[bold]{head}[/] · "
            f"children in flight {self.in_flight} · evaluations {self.evaluated} · best {best_text} · "
            f"tokens {tokens:,} · ${usd:.4f} · {time.monotonic() - self.started:.0f}s"
        )

    def _who(self, event: dict[str, Any]) -> str:
        if event.get("key"):
            return str(event["key"])
        return self.name(event["candidate"]) if event.get("candidate") else "?"

    def describe(self, event: dict[str, Any]) -> str | None:
        """The line an event prints (None: it only moves the counters)."""
        kind = event.get("event")
        if kind == "generation":
            parents = ", ".join(self.name(p) for p in event["parents"])
            total = self.config.budget.generations
            return f"generation {event['generation']}/{total}: parents {parents}"
        if kind == "started":  # the async loop
            return f"child {event['key']} ({event['child']}/{event['of']}) started from {self.name(event['parent'])}"
        if kind == "seed":
            return f"seed evaluated: score {event['score']:.3f}"
        if kind == "child":
            score = f" score {event['score']:.3f}" if event.get("score") is not None else ""
            reason = f" ({event['reason']})" if event.get("reason") else ""
            return f"  child {self._who(event)}: {event['status']}{score}{reason}"
        if kind == "evaluated":
            if self.live:
                return None
            return f"  {self._who(event)}: {event['tasks']} task(s) evaluated"
        if kind == "validated":
            return (
                f"  {self._who(event)} on {event['tasks']} validation task(s): gain "
                f"{event['gain']:+.3f} (bound {event['ci_low']:+.3f} .. {event['ci_high']:+.3f})"
            )
        if kind == "experience":
            return f"  child {self._who(event)}: {event.get('examples', 0)} worked example(s) added"
        if kind == "waiting":
            return f"  waiting: {event.get('reason')}"
        if kind == "finished":
            return f"stopped: {event.get('reason')}"
        return None

    def emit(self, event: dict[str, Any]) -> None:
        with self._lock:
            kind = event.get("event")
            if kind == "generation":
                self.generation = event["generation"]
                self.in_flight = len(event["parents"])
            elif kind == "started":
                self.children_started = event["child"]
                self.in_flight += 1
            elif kind == "evaluated":
                self.evaluated += event["tasks"]
            elif kind == "child":
                self.in_flight = max(0, self.in_flight - 1)
            line = self.describe(event)
            if line is not None:
                if self.live:
                    self.console.print(line)
                else:  # plain text, one line, flushed: a log reader sees it as it happens
                    self.console.print(
                        f"{_stamp()} {line.strip()}", markup=False, highlight=False, soft_wrap=True
                    )
                    self.console.file.flush()
            if self._live is not None:
                self._live.update(self._line())


def summary(console: Any, archive: Archive, run_id: str, config: RunConfig) -> None:
    """Best candidate, its lineage, gain over the seed per evaluator, tokens, cost, time."""
    from rich.table import Table

    rows = archive.list_candidates(run_id)
    if not rows:
        console.print("the run recorded no candidate")
        return
    name = Names(archive, run_id)
    seed = rows[0]
    admitted = [r for r in rows if r.status == "admitted" and r.score is not None]
    best = max(admitted, key=lambda r: r.score or 0.0, default=seed)
    tokens, usd = archive.run_usage(run_id)
    record = archive.get_run(run_id)
    finished = record.finished_at or record.created_at
    table = Table(title=f"run {run_id}", show_header=False)
    table.add_row("candidates", f"{len(rows)} ({len(admitted)} admitted)")
    table.add_row("best", f"{name(best.id)} ({best.id}, generation {best.generation})")
    table.add_row("lineage", " -> ".join(name(r.id) for r in archive.lineage(best.id)))
    for evaluator in sorted(set(seed.scores) | set(best.scores)):
        before, after = seed.scores.get(evaluator, 0.0), best.scores.get(evaluator, 0.0)
        table.add_row(
            evaluator, f"{before:.3f} -> {after:.3f} ({after - before:+.3f} over the seed)"
        )
    table.add_row("tokens", f"{tokens:,}")
    table.add_row("cost", f"${usd:.4f}")
    table.add_row("time", f"{(finished - record.created_at).total_seconds():.0f}s")
    console.print(table)
    console.print(
        f"see the tree with `clade archive tree {run_id}`, a child's change with `clade archive diff`",
        soft_wrap=True,
    )
