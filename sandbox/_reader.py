"""Bounded reading of a file tree: the regular files under a path, within a per-file and a
total cap; everything else is named with the reason it was left out.

Standard library only: the Docker backend sends this source into the container as
``clade-python -I -S -c`` (args: root, per-file cap, total cap, ``-`` for none), where it
writes a tar of the files read to stdout and one JSON line ``{"skipped": ..., "more": n}``
to stderr. The local backend calls :func:`read_tree` directly.

Nothing is followed or blocked on: entries are ``lstat``-ed, symlinks are not followed
(not even the root's last component), a file is opened with ``O_NOFOLLOW | O_NONBLOCK``
and checked again after opening, and no read goes past the cap. Shallow files are read
first (breadth first, by name), so an ``answer.txt`` at the top is not crowded out by a
deep tree. Each file costs its size plus 1 KiB and its name's length against the total
cap (its tar headers and padding), so a million empty files cannot flood the host either.
"""

from __future__ import annotations

import collections
import io
import json
import os
import stat
import sys
import tarfile
from collections.abc import Callable

#: Skipped paths named at most; the rest are only counted.
MAX_NAMED = 200
_OPEN = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
    ):
        if test(mode):
            return name
    return "special file"


def read_tree(
    root: str,
    max_file: int | None,
    max_total: int | None,
    emit: Callable[[str, bytes], object],
) -> tuple[dict[str, list[object]], int]:
    """Read the regular files under ``root`` (or ``root`` itself, named by its basename)
    into ``emit(relative path, content)``; return (skipped path -> [kind, size, limit,
    detail], how many more were skipped unnamed). A missing root raises OSError."""
    skipped: dict[str, list[object]] = {}
    more = 0
    spent = 0

    def skip(rel: str, kind: str, size: int | None = None, limit: int | None = None,
             detail: str = "") -> None:  # fmt: skip
        nonlocal more
        if len(skipped) < MAX_NAMED:
            skipped[rel[:512]] = [kind, size, limit, detail[:200]]
        else:
            more += 1

    def take(path: str, rel: str, st: os.stat_result) -> None:
        nonlocal spent
        if stat.S_ISLNK(st.st_mode):
            return skip(rel, "symlink")
        if not stat.S_ISREG(st.st_mode):
            return skip(rel, "special", detail=_kind(st.st_mode))
        overhead = 1024 + len(rel.encode(errors="surrogateescape"))
        if max_file is not None and st.st_size > max_file:
            return skip(rel, "too_large", st.st_size, max_file)
        room = None if max_total is None else max_total - spent - overhead
        if room is not None and st.st_size > room:
            return skip(rel, "over_total", st.st_size, max_total)
        allowed = min(x for x in (max_file, room, 1 << 62) if x is not None)
        try:
            fd = os.open(path, _OPEN)
        except OSError as exc:
            return skip(rel, "unreadable", st.st_size, detail=exc.strerror or str(exc))
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped since the lstat
                return skip(rel, "special", detail="file replaced while read")
            chunks, got = [], 0
            while got <= allowed:
                chunk = os.read(fd, min(1 << 20, allowed + 1 - got))
                if not chunk:
                    break
                chunks.append(chunk)
                got += len(chunk)
        except OSError as exc:
            return skip(rel, "unreadable", st.st_size, detail=exc.strerror or str(exc))
        finally:
            os.close(fd)
        if got > allowed:  # it grew while read
            over_file = max_file is not None and got > max_file
            kind, limit = ("too_large", max_file) if over_file else ("over_total", max_total)
            return skip(rel, kind, got, limit)
        spent += got + overhead
        emit(rel, b"".join(chunks))
        return None

    top = os.lstat(root)
    if not stat.S_ISDIR(top.st_mode):
        take(root, os.path.basename(root.rstrip("/")) or root, top)
        return skipped, more
    todo: collections.deque[tuple[str, str]] = collections.deque([("", root)])
    while todo:
        rel_dir, folder = todo.popleft()
        try:
            with os.scandir(folder) as found:
                entries = sorted(found, key=lambda e: e.name)
        except OSError as exc:
            skip(rel_dir or ".", "unreadable", detail=exc.strerror or str(exc))
            continue
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError as exc:
                skip(rel, "unreadable", detail=exc.strerror or str(exc))
                continue
            if stat.S_ISDIR(st.st_mode):
                todo.append((rel, entry.path))
            else:
                take(entry.path, rel, st)
    return skipped, more


def main() -> None:
    """As a script: a tar of the files on stdout, the skipped ones as JSON on stderr."""
    root, caps = sys.argv[1], [None if a == "-" else int(a) for a in sys.argv[2:4]]
    out = tarfile.open(fileobj=sys.stdout.buffer, mode="w|", format=tarfile.PAX_FORMAT)  # noqa: SIM115

    def emit(rel: str, data: bytes) -> None:
        info = tarfile.TarInfo(rel)
        info.size, info.mode = len(data), 0o644
        out.addfile(info, io.BytesIO(data))

    try:
        skipped, more = read_tree(root, caps[0], caps[1], emit)
    except OSError as exc:
        sys.stderr.write(json.dumps({"error": f"{root}: {exc.strerror or exc}"}) + "\n")
        raise SystemExit(3) from None
    out.close()
    sys.stdout.flush()
    sys.stderr.write("\n" + json.dumps({"skipped": skipped, "more": more}) + "\n")


if __name__ == "__main__":
    main()
