"""Workspaces of the Docker backend: one task or one grade, isolated from every other.

A workspace holds one slot for its life and runs as a uid never used before in its
container (its gid is the same number, so it is in no group of anyone else's). Its folder,
``/slots/<slot>/<uid>``, lies on the slot's own tmpfs (size and inode limits of its own),
is owned by the sandbox's owner with mode 1770 and an ACL that lets in exactly that uid,
and holds the workspace's ``HOME`` and ``TMPDIR``; its commands run with umask 077.

Cost: a folder is prepared ahead, when the previous workspace of its slot is verified (or
at start), so entering takes no exec and leaving takes two:

1. as the workspace's uid: ``kill(-1, SIGKILL)``, then delete every file of the uid in its
   folder, ``/tmp``, ``/dev/shm``, ``/dev/mqueue`` and the work dir;
2. as the owner: check that no process and no file of the uid is left, remove the folder,
   and prepare the slot's next folder for a new uid.

Both run as non-dumpable programs (``clade-python``), and ptrace is denied, so nothing the
workspace left running can tamper with them. If the check finds anything, or cannot run,
the container is restarted (counted in ``restarts``): the next workspace in that slot
never meets what the last one left.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Unpack

from clade.sandbox import _files, _paths, _sweeper
from clade.sandbox.config import OWNER, PYTHON, SHELL, SLOTS_DIR, WORKDIR, ExecResult
from clade.sandbox.errors import SandboxError
from clade.sandbox.fileset import FileSet
from clade.sandbox.protocol import ReadCaps, RunOptions

if TYPE_CHECKING:
    from clade.sandbox.docker_backend import DockerSandbox

SWEEPER = Path(_sweeper.__file__).read_text()
#: Every place a workspace's uid can write besides its folder.
SHARED = [*_sweeper.SHARED_TMP, WORKDIR]
_PUT_OWN = 'umask 077; mkdir -p "$0" && tar -x --no-same-owner -C "$0"'
_PUT_RO = 'umask 022; mkdir -p "$0" && tar -x --no-same-owner -C "$0"'
_RESTARTED = "the sandbox restarted: this workspace's files and processes are gone"


def folder(slot: int, uid: int) -> str:
    return f"{SLOTS_DIR}/{slot}/{uid}"


def _sweeper_argv(mode: str, spec: Mapping[str, object]) -> list[str]:
    return [PYTHON, "-I", "-S", "-c", SWEEPER, mode, json.dumps(spec)]


def provision(box: DockerSandbox, slots: Iterable[int]) -> None:
    """Prepare a fresh folder (and uid) for each of ``slots`` in one exec, as the owner."""
    with box._state:
        pairs = {slot: next(box._uids) for slot in slots}
        generation = box._generation
    spec = {"folders": [[folder(s, uid), uid] for s, uid in pairs.items()]}
    raw = box._exec(OWNER, _sweeper_argv("provision", spec))
    if raw.exit_code != 0:
        lines = raw.out[2].decode(errors="replace").strip().splitlines()
        why = lines[-1] if lines else f"exit status {raw.exit_code}"
        raise SandboxError(
            f"could not prepare the workspace folders: {why}",
            hint="rebuild the image with `clade sandbox build`",
        )
    with box._state:
        if generation == box._generation:
            box._ready.update(pairs)


def enter(box: DockerSandbox, slot: int) -> DockerWorkspace:
    """The workspace whose folder is ready in ``slot`` (prepared now if none is)."""
    for _ in range(3):
        with box._state:
            uid, generation = box._ready.pop(slot, None), box._generation
        if uid is not None:
            return DockerWorkspace(box, slot, uid, generation)
        provision(box, [slot])
    raise SandboxError("no workspace folder could be prepared", hint="start a new sandbox")


def leave(box: DockerSandbox, ws: DockerWorkspace) -> None:
    """Kill and delete everything of ``ws``'s uid, verify it from the owner's uid, and
    prepare the slot's next folder; restart the container on any doubt."""
    with box._state:
        if box._container is None or ws.generation != box._generation:
            return  # stopped, or the restart already wiped it and prepared the slot again
        following = next(box._uids)
    roots = [ws.path, *SHARED]
    with contextlib.suppress(Exception):  # the verification below decides
        box._exec(ws.user, _sweeper_argv("clean", {"uid": ws.uid, "roots": roots}))
    spec = {"uid": ws.uid, "folder": ws.path, "roots": roots,
            "folders": [[folder(ws.slot, following), following]]}  # fmt: skip
    try:
        raw = box._exec(OWNER, _sweeper_argv("verify", spec))
        verdict = json.loads(raw.out[1].decode(errors="replace").strip().splitlines()[-1])
        why = [str(w) for w in verdict["why"]] if not verdict.get("clean") else []
    except Exception as exc:
        why = [f"the clean-up could not be verified: {type(exc).__name__}: {exc}"]
    with box._state:
        if ws.generation != box._generation:
            return
        if not why:
            box._ready[ws.slot] = following
            return
        box._restart(f"workspace of uid {ws.uid}: {'; '.join(why)}"[:2000])


class DockerWorkspace:
    """One workspace in a :class:`DockerSandbox`; see the module docstring."""

    def __init__(self, box: DockerSandbox, slot: int, uid: int, generation: int) -> None:
        self.box, self.slot, self.uid, self.generation = box, slot, uid, generation
        self.path = folder(slot, uid)
        self.user = f"{uid}:{uid}"
        self._lock = threading.Lock()
        cfg = box.config
        # Each workspace gets its share of the container's pids (threads count too).
        nproc = max(32, cfg.pids_limit // cfg.slots)
        self._wrap = (
            f"umask 077; ulimit -u {nproc} 2>/dev/null; "
            'mkdir -p "$HOME" "$TMPDIR" 2>/dev/null; '
            'timeout -s KILL "$0" "$@"; rc=$?; kill -KILL -1 2>/dev/null; exit $rc'
        )

    def _fresh(self) -> bool:
        return self.generation == self.box._generation

    def _check(self) -> None:
        if not self._fresh():
            raise SandboxError(_RESTARTED, hint="run the task again in a new workspace")

    def put_files(
        self, files: Mapping[str, bytes], dest: str = ".", *, writable: bool = True
    ) -> None:
        with self._lock:
            self._check()
            target = _paths.inside(self.path, dest)
            tar = _paths.pack(files, writable=writable)
            script, user = (_PUT_OWN, self.user) if writable else (_PUT_RO, OWNER)
            _files.transfer(self.box, [SHELL, "-c", script, target], tar, 1 << 16, user)

    def run(
        self,
        cmd: Sequence[str],
        **options: Unpack[RunOptions],
    ) -> ExecResult:
        cwd = _paths.inside(self.path, options.get("workdir", "."))
        own = {"HOME": f"{self.path}/.home", "TMPDIR": f"{self.path}/.tmp"}
        with self._lock:
            if not self._fresh():
                return ExecResult(exit_code=None, error=_RESTARTED)
            result = self.box._command(
                self.user, cmd, self._wrap, cwd, self.box._env(options.get("env"), **own), options
            )
        if not self._fresh() and not result.error:
            result = result.model_copy(update={"error": _RESTARTED})
        return result

    def get_files(self, path: str = ".", **caps: Unpack[ReadCaps]) -> FileSet:
        with self._lock:
            self._check()
            root = _paths.inside(self.path, path)
            return _files.read(self.box, root, self.user, caps)
