"""Folders of the model socket that a sandbox mounts, named after the process that owns them.

A folder is ``<tmp>/clade-sock-<pid>.<start time>.<random>`` (``/tmp`` when the temp dir's
path is too long for AF_UNIX's ~100 bytes with ``llm.sock``), and attributable, like a container's ``clade.owner``
label, to its owner (the pid's start time tells a reused pid apart). It is removed when
its ``with`` block ends, and :func:`prune_socket_dirs` (``clade sandbox prune``, and the
start of every run) removes those whose owner is gone, which is what a SIGKILL leaves.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from clade.sandbox.owner import owner_alive, owner_label

PREFIX = "clade-sock-"
#: A folder of the old, unattributed form (``clade-sock-<random>``) counts as left over
#: once it is this old and nothing listens on its socket.
LEGACY_GRACE_S = 300.0


#: Longest folder path that leaves room for ``/llm.sock`` under AF_UNIX's ~108 bytes.
MAX_FOLDER_BYTES = 90
_FALLBACK = Path("/tmp")


def _roots() -> list[Path]:
    """Where socket folders are made: the temp dir, and /tmp when that is too long."""
    return list(dict.fromkeys([Path(tempfile.gettempdir()), _FALLBACK]))


def _root() -> Path:
    root = Path(tempfile.gettempdir())
    longest = len(str(root / f"{PREFIX}4194304.18446744073709551615.12345678").encode())
    return root if longest <= MAX_FOLDER_BYTES else _FALLBACK


def _own_stem() -> str:
    _host, pid, started = owner_label().rsplit("/", 2)
    return f"{PREFIX}{pid}.{started}."


@contextmanager
def socket_dir() -> Iterator[Path]:
    """A fresh socket folder owned by this process, removed when the block ends."""
    path = _root() / f"{_own_stem()}{secrets.token_hex(4)}"
    path.mkdir(mode=0o700)
    try:
        path.chmod(0o755)  # the sandbox's non-root user must reach the socket
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def owned_socket_dirs() -> list[Path]:
    """The socket folders this process made and has not removed yet."""
    stem = _own_stem()
    return sorted(p for root in _roots() for p in root.glob(f"{stem}*") if p.is_dir())


def remove_owned_socket_dirs() -> int:
    """Remove this process's socket folders (the last step of a forced exit)."""
    found = owned_socket_dirs()
    for path in found:
        shutil.rmtree(path, ignore_errors=True)
    return len(found)


def _listening(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


def _dead(folder: Path) -> bool:
    """Whether ``folder``'s owner is gone (its name says who), or, for an unattributed
    folder, whether it is old and nothing answers on its socket."""
    owner = folder.name.removeprefix(PREFIX).split(".")
    if len(owner) == 3 and owner[0].isdigit():
        return owner_alive(f"{socket.gethostname()}/{owner[0]}/{owner[1]}") is False
    try:
        age = time.time() - folder.stat().st_mtime
    except OSError:
        return False
    sock = folder / "llm.sock"
    return age > LEGACY_GRACE_S and not (sock.exists() and _listening(sock))


def prune_socket_dirs(*, dry_run: bool = False) -> list[Path]:
    """Remove the socket folders whose owner process is gone; returns them."""
    removed = []
    for folder in sorted(p for root in _roots() for p in root.glob(f"{PREFIX}*")):
        if not folder.is_dir() or folder.is_symlink() or not _dead(folder):
            continue
        if not dry_run:
            with contextlib.suppress(OSError):
                shutil.rmtree(folder)
        removed.append(folder)
    return removed


__all__ = ["prune_socket_dirs", "remove_owned_socket_dirs", "socket_dir"]
