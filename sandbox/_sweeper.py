"""Preparing and clearing workspaces inside a container. Standard library only: the Docker
backend sends this source as ``clade-python -I -S -c SOURCE MODE SPEC`` (SPEC is JSON).

Modes:

``provision`` (as the owner uid): make each ``[folder, uid]``: a folder owned by the owner,
mode 1770 (sticky: the workspace cannot rename or delete the owner's read-only files in
it) with a POSIX ACL that gives ``uid`` rwx and the owner's group nothing, so no other uid
of the container can enter it.

``clean`` (as the workspace's uid): SIGKILL every other process of that uid
(``kill(-1)`` reaches processes that left their session or process group, and no fork can
slip past it: the kernel holds the task list while it signals), then delete every file of
that uid under ``roots``: the workspace's folder and the shared writable mounts.

``verify`` (as the owner, so nothing of the workspace's uid runs it): wait until no process
of that uid is left (zombies aside), remove the folder with the owner's read-only files,
remove hard links the owner never made in the shared temporary folders, check that no file
of the uid is left under ``roots``, then provision the slot's next folder. Prints one JSON
line ``{"clean": bool, "why": [...]}``; the host restarts the container when it is not
clean.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
import struct
import sys
import time

_UNDEFINED = 0xFFFFFFFF
#: Shared world-writable folders: nothing of the owner's belongs in them.
SHARED_TMP = ("/tmp", "/dev/shm", "/dev/mqueue")


def _acl(uid: int) -> bytes:
    """``system.posix_acl_access``: owner rwx, ``uid`` rwx, group none, mask rwx, other none."""
    entries = [(0x01, 7, _UNDEFINED), (0x02, 7, uid), (0x04, 0, _UNDEFINED),
               (0x10, 7, _UNDEFINED), (0x20, 0, _UNDEFINED)]  # fmt: skip
    return struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *e) for e in entries)


def provision(folders: list[list]) -> None:
    for folder, uid in folders:
        os.mkdir(folder, 0o700)
        os.setxattr(folder, "system.posix_acl_access", _acl(int(uid)))
        os.chmod(folder, 0o1770)


def _remove(top: str) -> None:
    """Remove ``top`` and what is under it, as far as this uid may (iterative: any depth)."""
    me = os.getuid()
    todo = [(top, False)]
    while todo:
        path, emptied = todo.pop()
        try:
            st = os.lstat(path)
            if not stat.S_ISDIR(st.st_mode):
                os.unlink(path)
            elif emptied:
                os.rmdir(path)
            else:
                if st.st_uid == me:
                    os.chmod(path, 0o700)
                todo.append((path, True))
                todo.extend((os.path.join(path, name), False) for name in os.listdir(path))
        except OSError:
            continue


def _walk(roots: list[str]):
    """(path, lstat) of every entry under ``roots`` this uid can see; unreadable folders
    (another live workspace's) are passed over."""
    todo = list(roots)
    while todo:
        folder = todo.pop()
        try:
            with os.scandir(folder) as found:
                entries = list(found)
        except OSError:
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            yield entry.path, st
            if stat.S_ISDIR(st.st_mode):
                todo.append(entry.path)


def clean(uid: int, roots: list[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(-1, signal.SIGKILL)
    for root in roots:
        owned = [p for p, st in _walk([root]) if st.st_uid == uid]
        for path in owned:  # parents before children: a removed tree's entries just vanish
            _remove(path)


def _alive(uid: int) -> list[int]:
    """Pids of processes of ``uid`` (real, effective, saved or fs uid or gid) that are not
    zombies."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status") as handle:
                fields = dict(line.split(":", 1) for line in handle if ":" in line)
        except OSError:
            continue  # it just exited
        ids = fields.get("Uid", "").split() + fields.get("Gid", "").split()
        if str(uid) in ids and not fields.get("State", "").strip().startswith("Z"):
            found.append(int(name))
    return found


def verify(uid: int, folder: str, roots: list[str], following: list[list]) -> list[str]:
    why = []
    deadline = time.monotonic() + 2.0
    while (alive := _alive(uid)) and time.monotonic() < deadline:
        time.sleep(0.02)
    if alive:
        why.append(f"processes of uid {uid} survived: {alive[:10]}")
    me = os.getuid()
    for shared in SHARED_TMP:  # hard links to the owner's read-only files
        for path, st in _walk([shared]):
            if st.st_uid == me and not stat.S_ISDIR(st.st_mode):
                _remove(path)
    left = [p for p, st in _walk(roots) if uid in (st.st_uid, st.st_gid)]
    if left:
        why.append(f"files of uid {uid} survived: {left[:10]}")
    _remove(folder)
    if os.path.lexists(folder):
        why.append(f"the folder {folder} could not be removed")
    provision(following)
    return why


def main() -> None:
    mode, spec = sys.argv[1], json.loads(sys.argv[2])
    if mode == "provision":
        provision(spec["folders"])
    elif mode == "clean":
        clean(spec["uid"], spec["roots"])
    elif mode == "verify":
        try:
            why = verify(spec["uid"], spec["folder"], spec["roots"], spec["folders"])
        except Exception as exc:  # any doubt is a dirty verdict
            why = [f"verification failed: {type(exc).__name__}: {exc}"]
        print(json.dumps({"clean": not why, "why": why}))
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
