"""The base of every error Clade raises on purpose.

It lives in ``archive/`` because that is the bottom layer: every other part may import it.
The CLI prints a ``CladeError`` as one line (its message and, when set, what to do next)
and exits non-zero; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class CladeError(Exception):
    """An expected failure with a message for the user and, ideally, the fix."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(CladeError):
    """A configuration value, file or command-line option is invalid."""

    exit_code = 2


class ArchiveError(CladeError):
    """Something in the archive (database or blob store) cannot be used as asked."""


class UnknownIdError(ArchiveError):
    """No run or candidate has this id (or id prefix)."""


class AmbiguousIdError(ArchiveError):
    """An id prefix matches more than one run or candidate."""


class CorruptBlobError(ArchiveError):
    """A stored blob cannot be read back, or its content does not match its hash."""


class MissingBlobError(ArchiveError):
    """A blob the database refers to is not in the blob store."""


class NewerSchemaError(ArchiveError):
    """The database was written by a newer Clade than this one."""


class ImportFormatError(ArchiveError):
    """A JSON-lines export is malformed or fails validation."""


class InfrastructureError(CladeError):
    """The machine failed a step (a database, a disk, an engine, a stop signal), not the
    candidate: such a failure is never recorded as a verdict on the candidate. The step
    stops the run (to be resumed) or is retried once the part answers again."""


class ArchiveUnavailable(ArchiveError, InfrastructureError):
    """The archive's database did not answer (locked, restarting, unreachable) in time."""


class DiskFullError(ArchiveError, InfrastructureError):
    """No space is left where the archive writes (database, blobs, checkpoints)."""


class RunStopped(ArchiveError, InfrastructureError):
    """The run is stopping (a signal): the archive takes no more writes from it."""


class RunLocked(ArchiveError):
    """Another live process is working on this run."""
