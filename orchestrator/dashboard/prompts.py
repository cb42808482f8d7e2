"""What the judge (and conductor) pages and the trace pages show.

A meta-prompt's history is grouped by (name, run): each version with what changed since
the one before (a unified diff of the text), the reason recorded for it, its score, and
the cases that caused it. A judge's versions that were scored on the gold set show their
agreement with gold and position consistency (traces of kind ``gold``, matched by name,
run and version); updates the gold guard refused are listed with their figures.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from clade.orchestrator.dashboard.candidates import diff_lines, pretty

if TYPE_CHECKING:
    from clade.archive.facade import Archive
    from clade.archive.tables import MetaPromptVersion, Trace


@dataclass(slots=True)
class GoldView:
    """A version's (or a refused update's) figures on the gold set."""

    label: str
    pairs: int
    agreement: float
    consistency: float
    pair_agreement: float
    valid: float
    accepted: bool | None
    reason: str
    trace_id: str


@dataclass(slots=True)
class VersionView:
    version: MetaPromptVersion
    diff: list[tuple[str, str]]
    cases: list[str]
    gold: GoldView | None = None


@dataclass(slots=True)
class PromptHistory:
    """The versions of one meta-prompt in one run (``run_id`` None: not tied to a run)."""

    kind: str
    name: str
    run_id: str | None
    versions: list[VersionView] = field(default_factory=list)
    refused: list[GoldView] = field(default_factory=list)

    @property
    def latest(self) -> MetaPromptVersion:
        return self.versions[-1].version

    @property
    def gold(self) -> list[GoldView]:
        """Gold figures of the versions that have them, oldest first."""
        return [v.gold for v in self.versions if v.gold is not None]


def _text_diff(old: str, new: str, a: str, b: str) -> list[tuple[str, str]]:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), a, b, n=2
    )
    return diff_lines("".join(line if line.endswith("\n") else line + "\n" for line in lines))


def _gold_views(archive: Archive, kind: str) -> dict[tuple[str, str | None], list[tuple[int | None, GoldView]]]:  # fmt: skip
    """Gold reports of ``kind``'s meta-prompts by (name, run): (version, figures)."""
    found: dict[tuple[str, str | None], list[tuple[int | None, GoldView]]] = defaultdict(list)
    for trace in archive.traces(kind="gold"):
        meta = trace.meta or {}
        if meta.get("kind") != kind or not isinstance(meta.get("name"), str):
            continue
        try:
            view = GoldView(
                label=str(meta.get("label", "")), pairs=int(meta["pairs"]),
                agreement=float(meta["agreement"]), consistency=float(meta["consistency"]),
                pair_agreement=float(meta["pair_agreement"]), valid=float(meta["valid"]),
                accepted=meta.get("accepted"), reason=str(meta.get("reason", "")),
                trace_id=trace.id,
            )  # fmt: skip
        except (KeyError, TypeError, ValueError):
            continue
        version = meta.get("version")
        found[(meta["name"], trace.run_id)].append(
            (version if isinstance(version, int) else None, view)
        )
    return found


def histories(archive: Archive, kind: str, name: str | None = None) -> list[PromptHistory]:
    """Every meta-prompt of ``kind`` (``name`` only, if given), grouped by name and run."""
    gold = _gold_views(archive, kind)
    groups: dict[tuple[str, str | None], list[MetaPromptVersion]] = defaultdict(list)
    for version in archive.meta_prompt_versions(kind=kind, name=name):
        groups[(version.name, version.run_id)].append(version)
    found = []
    # A new run may resume from the last text of an earlier run: its first version is
    # compared with that text, not with nothing.
    last_text: dict[str, tuple[str, str]] = {}
    for (group_name, run_id), versions in sorted(groups.items(), key=lambda g: g[1][0].id):
        history = PromptHistory(kind, group_name, run_id)
        reports = gold.get((group_name, run_id), [])
        by_version = {number: view for number, view in reports if number is not None}
        history.refused = [view for _, view in reports if view.accepted is False]
        previous, label = last_text.get(group_name, ("", "v0"))
        for v in sorted(versions, key=lambda v: v.version):
            diff = _text_diff(previous, v.text, label, f"v{v.version}")
            cases = [pretty(c) for c in v.cases or []]
            history.versions.append(VersionView(v, diff, cases, by_version.get(v.version)))
            previous, label = v.text, f"v{v.version}"
        last_text[group_name] = (previous, f"{label} of run {run_id or '-'}")
        found.append(history)
    return found


@dataclass(slots=True)
class Step:
    """One step of a trace: who spoke (or which call) and what was said."""

    role: str
    text: str


_LABEL_KEYS = ("round", "kind", "role", "name")


def _field(key: str, value: Any) -> str:
    text = pretty(value)
    return f"{key}:\n{text}" if "\n" in text or len(text) > 80 else f"{key}: {text}"


def trace_steps(trace: Trace) -> list[Step]:
    """Readable steps: a label from round/kind/role/name, then the content, then the rest."""
    steps = []
    for n, step in enumerate(trace.steps, 1):
        if not isinstance(step, dict):
            steps.append(Step(f"step {n}", pretty(step)))
            continue
        label = " · ".join(
            f"round {step[k]}" if k == "round" else str(step[k])
            for k in _LABEL_KEYS
            if step.get(k) not in (None, "")
        )
        parts = [pretty(step["content"])] if "content" in step else []
        parts += [_field(k, v) for k, v in step.items() if k not in (*_LABEL_KEYS, "content")]
        steps.append(Step(label or f"step {n}", "\n\n".join(parts)))
    return steps


def trace_page(archive: Archive, trace_id: str) -> dict[str, Any]:
    trace = archive.get_trace(trace_id)
    return {
        "trace": trace,
        "steps": trace_steps(trace),
        "meta_json": pretty(dict(trace.meta)) if trace.meta else "",
    }
