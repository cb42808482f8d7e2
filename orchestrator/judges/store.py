"""Where the versions of a judge's meta-prompt M live: the archive, or memory for tests.

Every version is kept with the reason it was made and the feedback records (cases) that
changed it, and its gold agreement as ``score`` when it was scored; a judge resumes from the
newest version of its name. Gold reports (:mod:`.drift`) of every version, and of every
refused update, are kept beside the versions: in the archive as traces of kind ``gold``.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from clade.archive.facade import Archive

    from .drift import GoldReport

KIND = "judge"
#: Trace kind of gold reports; the trace's meta says which meta-prompt and version.
GOLD_TRACE = "gold"


class MetaVersion(BaseModel):
    """One version of M."""

    version: int = Field(description="1 for the seed, then one more per accepted update.")
    text: str = Field(description="The meta-prompt.")
    reason: str = Field(description="seed, update, summarised update, flush, resumed.")
    cases: list[dict[str, Any]] = Field(
        default_factory=list, description="The feedback records that produced this version."
    )
    score: float | None = Field(default=None, description="Gold agreement, when it was scored.")


class MetaPromptStore(Protocol):
    """Keeps every version of one judge's M."""

    def latest(self) -> str | None:
        """The newest M, or None when there is none yet."""
        ...

    def save(
        self, text: str, *, reason: str, cases: list[dict[str, Any]], score: float | None = None
    ) -> int:
        """Record a new version of M (``score``: its gold agreement); returns its number."""
        ...

    def record_gold(self, report: GoldReport) -> None:
        """Keep the gold report of a version of M (or of a refused update)."""
        ...


class MemoryStore:
    """Versions in a list: for tests and for runs that keep no archive."""

    def __init__(self) -> None:
        self.versions: list[MetaVersion] = []
        self.gold: list[GoldReport] = []
        self._lock = threading.Lock()

    def latest(self) -> str | None:
        with self._lock:
            return self.versions[-1].text if self.versions else None

    def save(
        self, text: str, *, reason: str, cases: list[dict[str, Any]], score: float | None = None
    ) -> int:
        with self._lock:
            version = len(self.versions) + 1
            self.versions.append(
                MetaVersion(version=version, text=text, reason=reason, cases=cases, score=score)
            )
            return version

    def record_gold(self, report: GoldReport) -> None:
        with self._lock:
            self.gold.append(report)


class ArchiveStore:
    """Versions as ``MetaPromptVersion`` rows (kind ``judge``) of the archive."""

    def __init__(self, archive: Archive, name: str, run_id: str | None = None) -> None:
        self.archive = archive
        self.name = name
        self.run_id = run_id
        self.gold: list[GoldReport] = []  # the reports recorded through this store

    def latest(self) -> str | None:
        """The newest version of this name in any run (a new run resumes an old one's M)."""
        found = self.archive.latest_meta_prompt(KIND, self.name)
        return found.text if found is not None else None

    def save(
        self, text: str, *, reason: str, cases: list[dict[str, Any]], score: float | None = None
    ) -> int:
        return self.archive.add_meta_prompt_version(
            KIND, self.name, text, run_id=self.run_id, reason=reason, cases=cases, score=score
        ).version

    def record_gold(self, report: GoldReport) -> None:
        """A trace of kind ``gold``: the per-pair verdicts as steps, the figures as meta."""
        self.gold.append(report)
        self.archive.record_trace(
            GOLD_TRACE, f"{self.name} {report.label} v{report.version or '-'}",
            [v.model_dump() for v in report.verdicts], answer=f"{report.agreement:.4f}",
            run_id=self.run_id, calls=report.calls, tokens=report.tokens,
            meta={"kind": KIND, "name": self.name, **report.summary()},
        )  # fmt: skip

    def versions(self) -> list[MetaVersion]:
        """Every version of this name, oldest first (all runs)."""
        return [
            MetaVersion(
                version=v.version,
                text=v.text,
                reason=v.reason or "",
                cases=v.cases or [],
                score=v.score,
            )
            for v in self.archive.meta_prompt_versions(KIND, self.name)
        ]

    def gold_reports(self) -> list[dict[str, Any]]:
        """The figures of every gold report of this name (all runs), oldest first."""
        return [
            dict(t.meta or {}) | {"run_id": t.run_id}
            for t in self.archive.traces(kind=GOLD_TRACE)
            if (t.meta or {}).get("name") == self.name and (t.meta or {}).get("kind") == KIND
        ]
