"""Tar streams in and out of a sandbox, and the path checks around them."""

from __future__ import annotations

import io
import json
import posixpath
import tarfile
from collections.abc import Mapping
from typing import Any

from clade.sandbox.errors import SandboxError
from clade.sandbox.fileset import FileSet, Skipped


def inside(root: str, path: str) -> str:
    """``path`` (relative to ``root``, or absolute within it) as a normalised absolute path."""
    full = posixpath.normpath(posixpath.join(root, path))
    if full != root and not full.startswith(root.rstrip("/") + "/"):
        raise SandboxError(f"path {path!r} leaves the work dir {root}", hint="use a relative path")
    return full


def pack(files: Mapping[str, bytes], *, writable: bool) -> bytes:
    """A tar of ``files`` (relative paths), group-writable unless ``writable`` is False."""
    file_mode, dir_mode = (0o664, 0o775) if writable else (0o444, 0o555)
    buf = io.BytesIO()
    dirs: set[str] = set()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            rel = posixpath.normpath(name)
            if rel.startswith(("/", "../")) or rel in {".", ".."}:
                raise SandboxError(f"bad file name {name!r}", hint="give paths relative to dest")
            chain, parent = [], posixpath.dirname(rel)
            while parent and parent not in dirs:
                dirs.add(parent)
                chain.append(parent)
                parent = posixpath.dirname(parent)
            for folder in reversed(chain):
                info = tarfile.TarInfo(folder)
                info.type, info.mode = tarfile.DIRTYPE, dir_mode
                tar.addfile(info)
            data = files[name]
            info = tarfile.TarInfo(rel)
            info.size, info.mode = len(data), file_mode
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def unpack(data: bytes) -> dict[str, bytes]:
    """The regular files of a tar stream; links, devices and absolute or `..` names are skipped."""
    out: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        for member in tar:
            name = posixpath.normpath(member.name)
            if not member.isfile() or name.startswith(("/", "../")):
                continue
            handle = tar.extractfile(member)
            if handle is not None:
                out[name.removeprefix("./")] = handle.read()
    return out


def manifest(stderr: bytes) -> tuple[dict[str, Any], str]:
    """The bounded reader's JSON line (the last line of its stderr), and that line as text."""
    lines = stderr.decode(errors="replace").strip().splitlines()
    last = lines[-1] if lines else ""
    try:
        found = json.loads(last) if last else {}
    except ValueError:
        found = {}
    return (found if isinstance(found, dict) else {}), last[:500]


def fileset(data: bytes, found: Mapping[str, Any]) -> FileSet:
    """The files of the reader's tar stream, with its skipped entries."""
    skipped = found.get("skipped")
    rows = skipped.items() if isinstance(skipped, dict) else []
    more = found.get("more")
    return FileSet(
        unpack(data),
        {str(p): Skipped.from_row(row) for p, row in rows if isinstance(row, list)},
        more if isinstance(more, int) else 0,
    )
