"""Run commands with timeouts and capped output: the batch runner inside a sandbox, and the
process handling of the local backend. Standard library only: its source is sent into
containers as ``python3 -c`` (see :mod:`clade.sandbox.batch`), so it must not import Clade.

As a script it reads a JSON spec on stdin (``commands``, ``timeout``, ``workers``,
``keep``, ``kill``) and prints one JSON line per finished command. Each command runs in
its own session; at its timeout, when it floods its output, or when it exits, its process
group is killed. (A process that leaves the group survives until the batch ends; the
sandbox then kills every process of the batch's uid.)
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import queue
import selectors
import signal
import subprocess
import sys
import threading
import time
from typing import Any


def collect(proc: subprocess.Popen[bytes], limit: float, keep: int, kill_at: int) -> dict[str, Any]:
    """Read ``proc``'s stdout and stderr until both close or ``limit`` seconds pass; keep
    ``keep`` bytes of each; kill its process group past ``kill_at`` bytes, at the limit, and
    once it exits."""
    start = time.monotonic()
    out = {"stdout": bytearray(), "stderr": bytearray()}
    total, truncated, timed_out, flooded, swept = 0, False, False, False, False
    with selectors.DefaultSelector() as sel:
        for name in out:
            sel.register(getattr(proc, name), selectors.EVENT_READ, name)
        while sel.get_map():
            if not swept and proc.poll() is not None:
                killpg(proc.pid)  # what the command left behind in its group
                swept = True
            remaining = start + limit - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            for key, _ in sel.select(min(remaining, 0.5)):
                chunk = os.read(key.fd, 1 << 16)
                if not chunk:
                    sel.unregister(key.fileobj)
                    continue
                total += len(chunk)
                store = out[key.data]
                truncated |= len(store) + len(chunk) > keep
                store += chunk[: max(keep - len(store), 0)]
            if total > kill_at:
                flooded = True
                break
    if not (timed_out or flooded):  # its output closed: let it exit before killing the rest
        try:
            proc.wait(timeout=max(start + limit - time.monotonic(), 0.0))
        except subprocess.TimeoutExpired:
            timed_out = True
    killpg(proc.pid)
    code = proc.wait()
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
    return {
        "exit_code": 128 - code if code < 0 else code,
        "stdout": bytes(out["stdout"]),
        "stderr": bytes(out["stderr"]),
        "duration_s": time.monotonic() - start,
        "timed_out": timed_out,
        "output_truncated": truncated,
        "output_killed": flooded,
    }


def killpg(pid: int) -> None:
    """SIGKILL the process group led by ``pid``, if any is left."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _run_one(argv: list[str], spec: dict[str, Any]) -> dict[str, Any]:
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        return {"exit_code": 127, "stderr": str(exc).encode()}
    return collect(proc, spec["timeout"], spec["keep"], spec["kill"])


def main() -> None:
    """The batch runner: JSON spec on stdin, one JSON result line per command on stdout."""
    spec = json.loads(sys.stdin.buffer.read())
    todo: queue.Queue[int] = queue.Queue()
    for index in range(len(spec["commands"])):
        todo.put(index)
    lock = threading.Lock()

    def worker() -> None:
        while True:
            try:
                index = todo.get_nowait()
            except queue.Empty:
                return
            result = _run_one(spec["commands"][index], spec)
            for name in ("stdout", "stderr"):
                result[name] = base64.b64encode(result.get(name, b"")).decode()
            with lock:
                sys.stdout.write(json.dumps({"index": index, **result}) + "\n")
                sys.stdout.flush()

    threads = [threading.Thread(target=worker) for _ in range(spec["workers"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


if __name__ == "__main__":
    main()
