"""The checker: runs an evaluator's tests against a solution it cannot trust, and signs verdicts.

Runs inside the grading sandbox as ``python3 -I -S -c <plain.py + _remote.py + this>``. It
first makes itself non-dumpable (no process of its uid can read its memory, its open files
or ptrace it), then reads everything from stdin: an HMAC key, the worker's source, and per
grade the solution's files, the tests and a timeout. Stdin is consumed before any solution
code exists, and nothing secret is ever on disk. Per grade it:

1. writes the solution's files into a fresh folder (refusing names that would shadow the
   standard library or Python's start-up: ``sitecustomize.py``, ``usercustomize.py``,
   ``conftest.py``, ``*.pth``, a top-level ``unittest.py``, ...);
2. runs the tests (a unittest module, trusted code) *here*, where the solution's modules are
   remote proxies: each call crosses to the solution's own process (``_worker.py``) and
   only plain data comes back;
3. kills every other process of its uid (stop, then kill, until none is left), deletes every
   file of its uid in the folders a solution can write, and checks that both are gone;
4. prints ``CLADE-VERDICT <json> <hmac>``. Without the key, which never leaves this
   process, nothing the solution prints can pass for a verdict.

If a grade cannot be cleaned up, the remaining grades are not run (``CLADE-UNCLEAN``):
the host grades them again in a fresh place.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import shutil
import signal
import stat
import sys
import time
import types
import unittest
from typing import Any

if __package__:  # imported on the host; in the sandbox _remote.py's source comes first
    from ._remote import (
        GradeTimeout,
        HarnessFault,
        Session,
        install,
    )

HOOK_NAMES = {"sitecustomize.py", "usercustomize.py", "conftest.py"}
SCRATCH = ("/tmp", "/dev/shm")
PR_SET_DUMPABLE = 4


def _nondumpable() -> None:
    import ctypes

    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        raise SystemExit("CLADE-HARNESS-ERROR prctl(PR_SET_DUMPABLE) failed")


def refused(paths: list[str]) -> str | None:
    """Why these solution files may not be graded, or None."""
    stdlib = set(sys.stdlib_module_names)
    for path in paths:
        parts = path.split("/")
        name = parts[-1]
        if name in HOOK_NAMES or name.endswith(".pth") or ".." in parts or path.startswith("/"):
            return f"refused: {path} is not allowed in a solution"
        top = parts[0].removesuffix(".py")
        if top in stdlib:
            return f"refused: {path} would shadow the standard library module {top}"
    return None


def _write(folder: str, files: dict[str, str]) -> None:
    os.makedirs(folder, mode=0o700)
    for path, text in files.items():
        target = os.path.join(folder, path)
        os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
        with open(target, "w", encoding="utf-8") as handle:
            handle.write(text)


def _why(traceback_text: str) -> str:
    """The exception line of a traceback (``AssertionError: [1] != [2]``)."""
    lines = traceback_text.splitlines()
    found = (line for line in lines if line and not line.startswith((" ", "Traceback")))
    return next(found, "?")[:300]


def run_tests(
    grade: dict[str, Any], folder: str, scratch: str, worker_source: str
) -> dict[str, Any]:
    """Run one grade's tests; the verdict as plain data."""
    verdict: dict[str, Any] = {"run": 0, "failed": [], "error": "", "timed_out": False}
    files: dict[str, str] = grade["files"]
    why = refused(list(files))
    if why:
        verdict["error"] = why
        return verdict
    _write(folder, files)
    tops = {p.split("/")[0].removesuffix(".py") for p in files if p.endswith(".py")}
    deadline = time.monotonic() + float(grade["timeout"])
    session = Session(worker_source, folder, scratch, deadline, grade.get("memory_mb", 1024))
    module = types.ModuleType("clade_hidden_tests")
    undo = install(session, tops)
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, max(float(grade["timeout"]), 0.01) + 1.0)
    try:
        try:
            exec(compile(grade["tests"], "<hidden tests>", "exec"), module.__dict__)
        except GradeTimeout:
            verdict["timed_out"] = True
            return verdict
        except (Exception, HarnessFault) as exc:
            verdict["error"] = f"the tests could not load the solution: {_describe(exc)}"[:1000]
            return verdict
        suite = unittest.defaultTestLoader.loadTestsFromModule(module)
        result = unittest.TestResult()
        suite.run(result)
        verdict["run"] = result.testsRun
        verdict["failed"] = [
            [test.id().rsplit(".", 1)[-1], _why(text)]
            for test, text in result.failures + result.errors
        ] + [
            [test.id().rsplit(".", 1)[-1], "unexpected success"]
            for test in result.unexpectedSuccesses
        ]
        verdict["timed_out"] = session.timed_out
    except GradeTimeout:
        verdict["timed_out"] = True
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        undo()
        session.close()
    return verdict


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _alarm(signum: int, frame: Any) -> None:
    raise GradeTimeout("the grade ran past its timeout")


# -- after each grade: nothing of it may be left --------------------------------------------
def _processes(uid: int, keep: set[int]) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in keep:
            continue
        try:
            with open(f"/proc/{name}/status") as handle:
                status = dict(line.split(":", 1) for line in handle if ":" in line)
        except OSError:
            continue
        if status.get("State", "").strip().startswith("Z"):
            continue  # a zombie holds nothing; its parent or PID 1 reaps it
        if int(status.get("Uid", "-1").split()[0]) == uid:
            found.append(int(name))
    return found


def _ancestors() -> set[int]:
    pids, pid = {os.getpid()}, os.getpid()
    while pid > 1:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                pid = int(handle.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            break
        pids.add(pid)
    return pids


def kill_others(uid: int, keep: set[int], rounds: int = 50) -> bool:
    """Stop, then kill, every process of ``uid`` but ``keep``, until none is left."""
    for _ in range(rounds):
        victims = _processes(uid, keep)
        if not victims:
            return True
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            for pid in victims:
                with contextlib.suppress(OSError):
                    os.kill(pid, sig)
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            pass
        time.sleep(0.002)
    return not _processes(uid, keep)


def remove_files(uid: int, roots: list[str]) -> bool:
    """Delete every file and folder of ``uid`` under ``roots``; True when none is left."""
    for root in roots:
        for base, dirs, names in os.walk(root, topdown=True):
            for name in dirs:
                path = os.path.join(base, name)
                try:
                    if os.lstat(path).st_uid == uid:
                        os.chmod(path, 0o700)
                except OSError:
                    pass
            for name in names + dirs:
                path = os.path.join(base, name)
                try:
                    info = os.lstat(path)
                except OSError:
                    continue
                if info.st_uid != uid:
                    continue
                if stat.S_ISDIR(info.st_mode):
                    shutil.rmtree(path, onerror=_force)
                else:
                    with contextlib.suppress(OSError):
                        os.unlink(path)
    return not any(_owned(uid, root) for root in roots)


def _force(function: Any, path: str, excinfo: Any) -> None:
    try:
        os.chmod(os.path.dirname(path), 0o700)
        os.chmod(path, 0o700)
        function(path)
    except OSError:
        pass


def _owned(uid: int, root: str) -> bool:
    for base, dirs, names in os.walk(root):
        for name in dirs + names:
            try:
                if os.lstat(os.path.join(base, name)).st_uid == uid:
                    return True
            except OSError:
                pass
    return False


# -- the program ----------------------------------------------------------------------------
def main() -> None:
    _nondumpable()
    os.umask(0o077)
    spec = json.loads(sys.stdin.buffer.read())
    sys.stdin.close()
    key = bytes.fromhex(spec["key"])
    uid, keep, here = os.getuid(), _ancestors(), os.getcwd()
    # The sweep kills every process of this uid: never as root, and only where the host said
    # this runs in an isolated sandbox with a uid of its own.
    sweep = spec.get("sweep") is True and uid != 0
    out = sys.stdout

    def emit(kind: str, body: dict[str, Any]) -> None:
        payload = json.dumps(body, sort_keys=True)
        mac = hmac.new(key, f"{kind} {payload}".encode(), hashlib.sha256).hexdigest()
        out.write(f"{kind} {payload} {mac}\n")
        out.flush()

    for index, grade in enumerate(spec["grades"]):
        folder, scratch = os.path.join(here, f"g{index}"), os.path.join(here, f"g{index}.tmp")
        os.makedirs(scratch, mode=0o700)
        try:
            verdict = run_tests(grade, folder, scratch, spec["worker"])
        except Exception as exc:  # a fault of the harness itself: no verdict for this grade
            verdict = {"run": 0, "failed": [], "error": f"harness error: {_describe(exc)}", "timed_out": False}  # fmt: skip
        clean = True
        if sweep:  # only inside an isolated sandbox: on a host this would kill the user's processes
            clean = kill_others(uid, keep) and remove_files(uid, [here, *SCRATCH])
        else:
            shutil.rmtree(folder, ignore_errors=True)
            shutil.rmtree(scratch, ignore_errors=True)
        emit("CLADE-VERDICT", {"index": index, "id": grade["id"], **verdict})
        if not clean:
            emit("CLADE-UNCLEAN", {"index": index, "id": grade["id"]})
            return


if __name__ == "__main__":
    main()
