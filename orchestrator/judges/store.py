"""Where the versions of a judge's meta-prompt M live: the archive, or memory for tests.

Every version is kept with the reason it was made and the feedback records (cases) that
changed it; a judge resumes from the newest version of its name.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from clade.archive.facade import Archive

KIND = "judge"


class MetaVersion(BaseModel):
    """One version of M."""

    version: int = Field(description="1 for the seed, then one more per accepted update.")
    text: str = Field(description="The meta-prompt.")
    reason: str = Field(description="seed, update, summarised update, flush, resumed.")
    cases: list[dict[str, Any]] = Field(
        default_factory=list, description="The feedback records that produced this version."
    )


class MetaPromptStore(Protocol):
    """Keeps every version of one judge's M."""

    def latest(self) -> str | None:
        """The newest M, or None when there is none yet."""
        ...

    def save(self, text: str, *, reason: str, cases: list[dict[str, Any]]) -> None:
        """Record a new version of M."""
        ...


class MemoryStore:
    """Versions in a list: for tests and for runs that keep no archive."""

    def __init__(self) -> None:
        self.versions: list[MetaVersion] = []
        self._lock = threading.Lock()

    def latest(self) -> str | None:
        with self._lock:
            return self.versions[-1].text if self.versions else None

    def save(self, text: str, *, reason: str, cases: list[dict[str, Any]]) -> None:
        with self._lock:
            version = len(self.versions) + 1
            self.versions.append(
                MetaVersion(version=version, text=text, reason=reason, cases=cases)
            )


class ArchiveStore:
    """Versions as ``MetaPromptVersion`` rows (kind ``judge``) of the archive."""

    def __init__(self, archive: Archive, name: str, run_id: str | None = None) -> None:
        self.archive = archive
        self.name = name
        self.run_id = run_id

    def latest(self) -> str | None:
        """The newest version of this name in any run (a new run resumes an old one's M)."""
        found = self.archive.latest_meta_prompt(KIND, self.name)
        return found.text if found is not None else None

    def save(self, text: str, *, reason: str, cases: list[dict[str, Any]]) -> None:
        self.archive.add_meta_prompt_version(
            KIND, self.name, text, run_id=self.run_id, reason=reason, cases=cases
        )

    def versions(self) -> list[MetaVersion]:
        """Every version of this name, oldest first (all runs)."""
        return [
            MetaVersion(version=v.version, text=v.text, reason=v.reason or "", cases=v.cases or [])
            for v in self.archive.meta_prompt_versions(KIND, self.name)
        ]
