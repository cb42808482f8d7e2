"""The archive: every run, candidate, evaluation and model call, on disk.

``from clade.archive import Archive`` is resolved lazily, so importing ``clade.archive``
(for example for :mod:`clade.archive.errors`) does not import SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clade.archive.facade import Archive

__all__ = ["Archive", "stalled_s"]


def stalled_s() -> float:
    """Seconds this process has waited for an unavailable archive database (all threads)."""
    from clade.archive.retry import stalled_s as stalled

    return stalled()


def __getattr__(name: str) -> Any:
    if name == "Archive":
        from clade.archive.facade import Archive

        return Archive
    raise AttributeError(name)
