"""What ``get_files`` returns: the files read back, and what was left out and why.

Reading back is bounded: a file over the per-file cap, files past the total cap, and
anything that is not a regular file (a symlink, a FIFO, a device, a socket) are never read,
only named, so a 100 MB ``answer.txt`` costs the host nothing and a FIFO cannot block it.
An evaluator can then say "answer.txt is too large" instead of "answer.txt is missing".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

SkipKind = Literal["too_large", "over_total", "symlink", "special", "unreadable"]


@dataclass(frozen=True)
class Skipped:
    """Why one path was not read back."""

    #: ``too_large``: over the per-file cap; ``over_total``: the total cap was spent;
    #: ``symlink``; ``special``: a FIFO, device or socket; ``unreadable``: open/read failed.
    kind: SkipKind
    #: The file's size in bytes, when known.
    size: int | None = None
    #: The cap that was exceeded, for ``too_large`` and ``over_total``.
    limit: int | None = None
    #: For ``special`` the file type, for ``unreadable`` the error.
    detail: str = ""

    def __str__(self) -> str:
        if self.kind == "too_large":
            return f"too large ({self.size} bytes; the cap is {self.limit})"
        if self.kind == "over_total":
            return f"not read: the {self.limit}-byte total cap was spent ({self.size} bytes)"
        if self.kind == "symlink":
            return "a symlink, not a regular file"
        if self.kind == "special":
            return f"a {self.detail or 'special file'}, not a regular file"
        return f"unreadable ({self.detail})" if self.detail else "unreadable"

    @classmethod
    def from_row(cls, row: list[object]) -> Skipped:
        """From the reader's ``[kind, size, limit, detail]``; a bad row reads as unreadable."""
        kind, size, limit, detail = (list(row) + [None] * 4)[:4]
        if kind not in ("too_large", "over_total", "symlink", "special", "unreadable"):
            return cls("unreadable", detail=f"bad reader row {row!r}"[:200])
        return cls(
            kind,
            size if isinstance(size, int) else None,
            limit if isinstance(limit, int) else None,
            str(detail or "")[:200],
        )


class FileSet(dict[str, bytes]):
    """Relative path -> content of the regular files read back (a plain dict to callers
    that want only that), plus :attr:`skipped`: path -> :class:`Skipped` for every entry
    that was seen but not read (at most a few hundred are named; :attr:`more_skipped`
    counts the rest)."""

    def __init__(
        self,
        files: Mapping[str, bytes] | Iterable[tuple[str, bytes]] = (),
        skipped: Mapping[str, Skipped] | None = None,
        more_skipped: int = 0,
    ) -> None:
        super().__init__(files)
        self.skipped: dict[str, Skipped] = dict(skipped or {})
        self.more_skipped = more_skipped

    def notes(self) -> list[str]:
        """One line per skipped path, e.g. ``answer.txt: too large (104857600 bytes; ...)``."""
        lines = [f"{path}: {why}" for path, why in sorted(self.skipped.items())]
        if self.more_skipped:
            lines.append(f"... and {self.more_skipped} more not read back")
        return lines

    def __repr__(self) -> str:
        return f"FileSet({dict.__repr__(self)}, skipped={self.skipped!r})"
