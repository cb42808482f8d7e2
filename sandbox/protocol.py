"""The :class:`Sandbox` protocol every backend (Docker, local) implements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from clade.sandbox.config import ExecResult, SandboxConfig


@runtime_checkable
class Sandbox(Protocol):
    """A place to run untrusted commands. Use as a context manager: leaving it stops the
    sandbox and removes everything it created, on every path.

    Paths given to ``put_files``, ``get_files`` and ``run(workdir=)`` are relative to
    :attr:`workdir` (absolute ones must lie inside it).
    """

    config: SandboxConfig
    #: Absolute path of the writable work dir as commands see it.
    workdir: str
    #: False for backends that do not isolate (the local one): never give them hostile code.
    isolated: bool

    def start(self) -> None:
        """Create and start the sandbox; idempotent."""

    def put_files(
        self, files: Mapping[str, bytes], dest: str = ".", *, writable: bool = True
    ) -> None:
        """Write ``files`` (relative path -> content) under ``dest``. ``writable=False``
        makes them read-only to the commands run afterwards."""

    def run(
        self,
        cmd: Sequence[str],
        *,
        timeout_s: float | None = None,
        workdir: str = ".",
        env: Mapping[str, str] | None = None,
        stdin: bytes | None = None,
        output_limit_bytes: int | None = None,
    ) -> ExecResult:
        """Run ``cmd`` (argv, no shell) with a wall-clock limit that kills its whole process
        tree; keep ``output_limit_bytes`` (default: the config's) of each stream.
        Thread-safe: up to ``config.slots`` commands run at once."""

    def get_files(self, path: str = ".") -> dict[str, bytes]:
        """The regular files under ``path`` (relative path -> content); symlinks are skipped."""

    def stop(self) -> None:
        """Stop the sandbox and remove what it created; idempotent."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class ManagedSandbox:
    """The context-manager half of :class:`Sandbox`, shared by the backends: entering
    starts the sandbox, leaving stops it on every path."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
