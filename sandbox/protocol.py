"""The :class:`Sandbox` and :class:`Workspace` protocols every backend (Docker, local)
implements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Protocol, Self, TypedDict, Unpack, runtime_checkable

from clade.sandbox.config import ExecResult, SandboxConfig
from clade.sandbox.fileset import FileSet


class ReadCaps(TypedDict, total=False):
    """The caps of every ``get_files``; default: the sandbox config's transfer limits."""

    #: Bytes of one file at most; a larger one is skipped (named in ``FileSet.skipped``).
    max_file_bytes: int | None
    #: Bytes of all files together at most.
    max_total_bytes: int | None


class RunOptions(TypedDict, total=False):
    """The keywords of every ``run`` (a sandbox's and a workspace's), all optional."""

    #: Wall-clock limit in seconds; default: the sandbox config's ``timeout_s``.
    timeout_s: float | None
    #: Working folder, relative to the sandbox's (or workspace's) folder; default ".".
    workdir: str
    #: Extra environment variables.
    env: Mapping[str, str] | None
    #: Bytes fed to the command's standard input; default: none (``/dev/null``).
    stdin: bytes | None
    #: Bytes of each stream to keep; default: the sandbox config's ``output_limit_bytes``.
    output_limit_bytes: int | None


@runtime_checkable
class Workspace(Protocol):
    """The unit of isolation for one task or one grade, inside a sandbox.

    On the Docker backend a workspace runs as a uid never used before in its container,
    with umask 077, in a folder only that uid (and the sandbox's owner) can enter, on its
    slot's own size-limited disk; ``HOME`` and ``TMPDIR`` lie inside it. Leaving it (on
    every path) kills every process of its uid, deletes every file of it, and checks from
    another uid that both are gone; when that check fails the container is restarted.
    Paths in its calls are relative to :attr:`path`. Calls of one workspace run one at a
    time, and each ``run`` ends by killing whatever its command left running.
    """

    #: Absolute path of the workspace's private folder as its commands see it.
    path: str
    #: The uid its commands run as.
    uid: int

    def put_files(
        self, files: Mapping[str, bytes], dest: str = ".", *, writable: bool = True
    ) -> None:
        """Write ``files`` under ``dest``. Writable files belong to the workspace's uid;
        ``writable=False`` files (and the folders made for them) belong to the sandbox's
        owner: the workspace can read them but not change, rename or delete them. Put
        read-only files into folders its commands did not make (they cannot be entered
        by the owner)."""

    def run(
        self,
        cmd: Sequence[str],
        **options: Unpack[RunOptions],
    ) -> ExecResult:
        """Run ``cmd`` as the workspace's uid, like :meth:`Sandbox.run`."""

    def get_files(self, path: str = ".", **caps: Unpack[ReadCaps]) -> FileSet:
        """The regular files under ``path``, read as the workspace's uid, each at most
        ``max_file_bytes`` and all together at most ``max_total_bytes``; what is left out
        (over a cap, a symlink, a FIFO or device, unreadable) is in ``FileSet.skipped``."""


@runtime_checkable
class Sandbox(Protocol):
    """A place to run untrusted commands. Use as a context manager: leaving it stops the
    sandbox and removes everything it created, on every path.

    Paths given to ``put_files``, ``get_files`` and ``run(workdir=)`` are relative to
    :attr:`workdir` (absolute ones must lie inside it). These plain calls share the work
    dir and one uid per slot; use :meth:`workspace` to keep tasks apart.
    """

    config: SandboxConfig
    #: Absolute path of the writable work dir as commands see it.
    workdir: str
    #: False for backends that do not isolate (the local one): never give them hostile code.
    isolated: bool
    #: How often the sandbox had to restart (losing every file and workspace in it).
    restarts: int

    def workspace(self) -> AbstractContextManager[Workspace]:
        """A fresh :class:`Workspace`, holding one of the sandbox's slots until it is left
        (waits for a free slot)."""

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
        **options: Unpack[RunOptions],
    ) -> ExecResult:
        """Run ``cmd`` (argv, no shell) with a wall-clock limit that kills its whole process
        tree; keep ``output_limit_bytes`` (default: the config's) of each stream.
        Thread-safe: up to ``config.slots`` commands run at once."""

    def get_files(self, path: str = ".", **caps: Unpack[ReadCaps]) -> FileSet:
        """The regular files under ``path`` (relative path -> content) within the caps (the
        total defaults to ``config.transfer_limit_bytes``); symlinks and special files are
        not read, and everything left out is named in ``FileSet.skipped``."""

    def stop(self) -> None:
        """Stop the sandbox and remove what it created; idempotent."""

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc_info: object) -> None: ...


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

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
