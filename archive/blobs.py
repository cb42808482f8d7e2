"""Content-addressed blob store: candidate trees as gzip tarballs, evaluation logs.

A blob is named by the sha256 of its *uncompressed* bytes and stored gzip-compressed at
``<root>/<h[:2]>/<h>.tar.gz`` (trees) or ``<h>.gz`` (logs). Trees are tarred with
normalised metadata (sorted names, mtime 0, uid/gid 0, mode 644 or 755), so the same files
always give the same hash and a duplicate child costs nothing. Writes go to a temporary
file that is renamed into place, so a reader never sees half a blob; reads check the hash.
"""

from __future__ import annotations

import difflib
import errno
import gzip
import hashlib
import io
import os
import tarfile
import tempfile
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Literal, Protocol

from clade.archive.errors import ArchiveError, CorruptBlobError, DiskFullError, MissingBlobError

DEFAULT_IGNORE = ("__pycache__", ".git", ".pytest_cache", ".mypy_cache")
IGNORED_SUFFIXES = (".pyc", ".pyo")
_SUFFIX = {"tree": ".tar.gz", "log": ".gz"}


def _walk(root: Path, ignore: Iterable[str]) -> list[Path]:
    skip = set(ignore)
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in skip)
        base = Path(dirpath)
        found.extend(base / d for d in dirnames)
        found.extend(
            base / f
            for f in sorted(filenames)
            if f not in skip and not f.endswith(IGNORED_SUFFIXES)
        )
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def tar_tree(root: Path, ignore: Iterable[str] = DEFAULT_IGNORE) -> bytes:
    """The normalised (deterministic) tar of the files under `root`."""
    if not root.is_dir():
        raise ArchiveError(f"not a directory: {root}", hint="pass the folder of the candidate")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in _walk(root, ignore):
            info = tarfile.TarInfo(path.relative_to(root).as_posix())
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            if path.is_symlink():
                info.type, info.linkname, info.mode = tarfile.SYMTYPE, os.readlink(path), 0o777
                tar.addfile(info)
            elif path.is_dir():
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif path.is_file():
                data = path.read_bytes()
                info.size, info.mode = len(data), 0o755 if os.access(path, os.X_OK) else 0o644
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def tree_files(tar_bytes: bytes) -> dict[str, bytes]:
    """Path -> content of every regular file in a tree tarball."""
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:") as tar:
        for member in tar.getmembers():
            if member.isfile():
                handle = tar.extractfile(member)
                assert handle is not None
                files[member.name] = handle.read()
    return files


#: The folder of an agent's tree that holds its improvement procedure (run option
#: ``improvement.editable``): the rest of the tree is the task part, the agent itself.
META_FOLDER = "meta/"
#: Which files of a tree a diff covers: the improvement procedure, the task part, or all.
TreePart = Literal["meta", "task", "all"]


def in_part(path: str, part: TreePart) -> bool:
    """Whether the tree file ``path`` belongs to ``part``."""
    if part == "all":
        return True
    return path.startswith(META_FOLDER) == (part == "meta")


def unified_diff(
    old: dict[str, bytes],
    new: dict[str, bytes],
    a: str = "a",
    b: str = "b",
    part: TreePart = "all",
) -> str:
    """A git-style unified diff between two trees given as path -> content (only the files
    of ``part``)."""
    chunks: list[str] = []
    for name in sorted(n for n in set(old) | set(new) if in_part(n, part)):
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        left = f"{a}/{name}" if before is not None else "/dev/null"
        right = f"{b}/{name}" if after is not None else "/dev/null"
        try:
            old_text = (before or b"").decode().splitlines(keepends=True)
            new_text = (after or b"").decode().splitlines(keepends=True)
        except UnicodeDecodeError:
            chunks.append(f"Binary files {left} and {right} differ\n")
            continue
        for line in difflib.unified_diff(old_text, new_text, left, right):
            chunks.append(
                line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
            )
    return "".join(chunks)


def _write_error(exc: OSError, root: Path) -> Exception:
    """A blob that could not be written: a full disk is its own error (the run stops)."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFullError(
            f"no space left for the blob store at {root}",
            hint="free disk space; nothing half-written was kept; "
            "then resume with `clade run --resume RUN`",
        )
    return ArchiveError(f"cannot write a blob under {root}: {exc.strerror}", hint=str(root))


class Upstream(Protocol):
    """Another blob store this one caches: a worker's store on a machine that does not share
    the orchestrator's blob folder reads what it lacks from there and sends what it writes
    (``clade.orchestrator.dgm.distributed`` implements it over Ray)."""

    def fetch(self, digest: str, kind: str) -> bytes | None:
        """The blob's content, or None when the upstream store lacks it too."""
        ...

    def publish(self, digest: str, kind: str, data: bytes) -> None:
        """Store ``data`` (whose sha256 is ``digest``) upstream; returns once it is there."""
        ...


class BlobStore:
    """Blobs under one folder, named by the sha256 of their uncompressed content.

    With an ``upstream``, the folder is a cache of another store: a blob missing here is
    fetched from it (and checked against its hash), and every blob written here is
    published to it before ``put`` returns, so a row that names a blob is never written
    before the blob is upstream."""

    def __init__(self, root: Path, upstream: Upstream | None = None) -> None:
        self.root = Path(root)
        self.upstream = upstream

    def path(self, digest: str, kind: str = "tree") -> Path:
        return self.root / digest[:2] / f"{digest}{_SUFFIX[kind]}"

    def put(self, data: bytes, kind: str = "tree") -> str:
        """Store `data` (no-op when already there) and return its hash."""
        digest = hashlib.sha256(data).hexdigest()
        if self._write(digest, data, kind) and self.upstream is not None:
            self.upstream.publish(digest, kind, data)
        return digest

    def _write(self, digest: str, data: bytes, kind: str) -> bool:
        """Write the blob here; False when it was already here."""
        target = self.path(digest, kind)
        if target.exists():
            return False
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        except OSError as exc:
            raise _write_error(exc, self.root) from exc
        try:
            with os.fdopen(fd, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
                gz.write(data)
            os.replace(tmp, target)
        except BaseException as exc:
            Path(tmp).unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise _write_error(exc, self.root) from exc
            raise
        return True

    def get(self, digest: str, kind: str = "tree") -> bytes:
        """The content of a blob, checked against its hash (fetched from the upstream
        store, and kept here, when this folder lacks it)."""
        path = self.path(digest, kind)
        if not path.exists() and self.upstream is not None:
            fetched = self.upstream.fetch(digest, kind)
            if fetched is not None:
                if hashlib.sha256(fetched).hexdigest() != digest:
                    raise CorruptBlobError(
                        f"blob {digest[:12]} came from upstream corrupt: its content does "
                        "not match its hash",
                        hint="check the orchestrator's blob folder",
                    )
                self._write(digest, fetched, kind)
                return fetched
        if not path.exists():
            raise MissingBlobError(
                f"blob {digest[:12]} is not in {self.root}",
                hint="the blob folder may belong to another archive; check --blobs / CLADE_HOME",
            )
        try:
            data = gzip.decompress(path.read_bytes())
        except (OSError, EOFError, zlib.error) as exc:
            raise CorruptBlobError(f"blob {digest[:12]} is corrupt: {exc}", hint=str(path)) from exc
        if hashlib.sha256(data).hexdigest() != digest:
            raise CorruptBlobError(
                f"blob {digest[:12]} is corrupt: its content does not match its hash",
                hint=f"remove {path} and restore it from an export",
            )
        return data

    def has(self, digest: str, kind: str = "tree") -> bool:
        if self.path(digest, kind).exists():
            return True
        if self.upstream is None:
            return False
        try:
            self.get(digest, kind)  # kept here for the read that follows
        except MissingBlobError:
            return False
        return True

    def put_tree(self, root: Path) -> str:
        """Store the tree under `root`; the hash names it."""
        return self.put(tar_tree(Path(root)), "tree")

    def export_tree(self, digest: str, dest: Path) -> Path:
        """Write the tree `digest` into `dest`, which must be absent or empty."""
        dest = Path(dest)
        if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
            raise ArchiveError(f"{dest} exists and is not empty", hint="choose a new folder")
        data = self.get(digest, "tree")
        dest.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            tar.extractall(dest, filter="data")
        return dest

    def files(self, digest: str) -> dict[str, bytes]:
        return tree_files(self.get(digest, "tree"))
