"""The host side of moving files in and out of a Docker sandbox: one exec per transfer,
its output capped; read-back through the bounded reader (:mod:`clade.sandbox._reader`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from clade.sandbox import _paths, _reader
from clade.sandbox.config import PYTHON
from clade.sandbox.errors import SandboxError
from clade.sandbox.fileset import FileSet

if TYPE_CHECKING:
    from clade.sandbox.docker_backend import DockerSandbox
    from clade.sandbox.protocol import ReadCaps

READER = Path(_reader.__file__).read_text()


def transfer(
    box: DockerSandbox, argv: list[str], stdin: bytes | None, keep: int, user: str
) -> tuple[bytes, str]:
    """Run ``argv`` as ``user`` with ``stdin``; its stdout and stderr, or a SandboxError."""
    raw = box._exec(user, argv, stdin, keep)
    stderr = raw.out[2].decode(errors="replace").strip()
    if raw.exit_code != 0 or raw.overflowed or raw.timed_out:
        why = "too large" if raw.overflowed else stderr or f"exit status {raw.exit_code}"
        raise SandboxError(f"file transfer failed: {why}", hint="check the paths and sizes")
    return bytes(raw.out[1]), stderr


def read(box: DockerSandbox, root: str, user: str, caps: ReadCaps) -> FileSet:
    """The files under ``root`` read as ``user`` within ``caps`` (the total at most the
    config's ``transfer_limit_bytes``)."""
    max_file, max_total = caps.get("max_file_bytes"), caps.get("max_total_bytes")
    limit = box.config.transfer_limit_bytes
    total = limit if max_total is None else min(max_total, limit)
    argv = ["-" if max_file is None else str(max_file), str(total)]
    # The total counts 1 KiB and the name per file, so the tar stream stays within ~3x of
    # it even for tiny files with long names; the manifest of skipped paths is bounded too.
    keep = min(limit, 3 * total) + (1 << 20)
    raw = box._exec(user, [PYTHON, "-I", "-S", "-c", READER, root, *argv], keep=keep)
    manifest, last = _paths.manifest(bytes(raw.out[2]))
    if raw.exit_code != 0 or raw.overflowed or raw.timed_out or "error" in manifest:
        why = manifest.get("error") or ("too large" if raw.overflowed else None)
        why = why or last or f"exit status {raw.exit_code}"
        raise SandboxError(f"file transfer failed: {why}", hint="check the paths and sizes")
    return _paths.fileset(bytes(raw.out[1]), manifest)
