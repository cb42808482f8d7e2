"""How ``clade run`` stops on SIGINT or SIGTERM: within seconds, recording nothing half-done,
and saying how to resume.

At the first signal:

1. the archive refuses every later write, so work still in flight cannot record a result
   that the stop made (a task failed because its container went away); that step runs
   again on resume (at-least-once: the steps in flight, nothing else);
2. this process's sandbox containers are killed, so every command and agent in flight
   ends at once, and with them their model calls through the gateway (killed, not
   removed: each sandbox then removes its own container as it unwinds);
3. the main thread gets ``KeyboardInterrupt`` (SIGINT) or ``SystemExit`` (SIGTERM) and
   unwinds: the graph stops, servers and sandboxes close in their ``finally`` blocks;
4. a watchdog sees that the process is gone within :data:`GRACE_S`. Past it, what is still
   running (an in-process model call cannot be interrupted between two tokens) is
   abandoned: the containers and socket folders of this process are removed and the
   process exits with ``os._exit``. The archive and the checkpoints are safe at any
   instant (transactions), as after a SIGKILL.

A second signal takes step 4 at once. The exit status is 130 (SIGINT) or 143 (SIGTERM).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from types import FrameType
from typing import Any

#: How long a forced exit waits for container creations that a busy daemon has not
#: finished after the first 5 s (a container it finishes after we exit would be left over).
CREATION_WAIT_S = 25.0

#: Seconds from the first signal to a forced exit.
GRACE_S = 5.0
_NAMES: dict[int, str] = {int(signal.SIGINT): "SIGINT", int(signal.SIGTERM): "SIGTERM"}


class RunStopper:
    """Installs the handlers for one run while inside its ``with`` block."""

    def __init__(self, archive: Any, run_id: str, grace_s: float = GRACE_S) -> None:
        self.archive, self.run_id, self.grace_s = archive, run_id, grace_s
        self.signum: int | None = None
        self.reason = ""
        self._signals = 0
        self._said = threading.Lock()
        self._hint_shown = False
        self._old: dict[int, Any] = {}

    # -- installation --------------------------------------------------------------------
    def __enter__(self) -> RunStopper:
        if threading.current_thread() is threading.main_thread():
            for signum in _NAMES:
                self._old[signum] = signal.signal(signum, self._on_signal)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self._old.items():
            signal.signal(signum, handler)
        self._old.clear()

    @property
    def stopped(self) -> bool:
        return self.signum is not None

    @property
    def exit_code(self) -> int:
        return 128 + (self.signum or signal.SIGINT)

    def stop_from_thread(self, reason: str) -> None:
        """Stop the run from another thread (a lost run lock): as a SIGTERM, with a reason."""
        self.reason = reason
        os.kill(os.getpid(), signal.SIGTERM)

    # -- the signal ------------------------------------------------------------------------
    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signals += 1
        if self._signals > 1:
            self._say("second signal: exiting now")
            self.force_exit()
        self.signum = signum
        why = self.reason or f"{_NAMES.get(signum, signum)} received"
        self.archive.stop_writes(why)
        self._say(f"stopping ({why}): cancelling the work in flight; a second Ctrl-C exits at once")
        threading.Thread(
            target=_kill_own_containers, args=(why,), name="clade-stop", daemon=True
        ).start()
        threading.Thread(target=self._watchdog, name="clade-stop-watchdog", daemon=True).start()
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise SystemExit(self.exit_code)

    def _watchdog(self) -> None:
        time.sleep(self.grace_s)
        self._say(f"the work in flight did not stop within {self.grace_s:.0f} s: abandoning it")
        if os.environ.get("CLADE_DEBUG_STOP"):
            import faulthandler

            faulthandler.dump_traceback(all_threads=True)
        self.force_exit()

    def force_exit(self) -> None:
        """Remove what this process made, say how to resume, and exit at once."""
        left = _close_creation("exiting", wait_s=5.0)
        if left:  # a busy daemon: a create it received completes even after we exit
            self._say(f"waiting for {left} sandbox creation(s) in flight, to remove them")
            _close_creation("exiting", wait_s=CREATION_WAIT_S)
        for _ in range(3):  # a container whose creation was in flight shows up late
            if remove_own_containers() == 0:
                break
        with contextlib.suppress(Exception):
            from clade.sandbox.sockets import remove_owned_socket_dirs

            remove_owned_socket_dirs()
        self.show_hint()
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(self.exit_code)

    def finish(self) -> None:
        """After the main thread unwound: say how to resume; exit at once if work threads
        are still stuck (they would hold the interpreter's exit), normally otherwise."""
        self.show_hint()
        stuck = [
            t
            for t in threading.enumerate()
            if t is not threading.current_thread() and not t.daemon and t.is_alive()
        ]
        if stuck:
            self.force_exit()

    def show_hint(self) -> None:
        with self._said:
            if self._hint_shown:
                return
            self._hint_shown = True
        self._say(f"stopped: resume with `clade run --resume {self.run_id}`")

    def _say(self, line: str) -> None:
        with contextlib.suppress(Exception):
            sys.stderr.write(line + "\n")
            sys.stderr.flush()


def _close_creation(reason: str, wait_s: float) -> int:
    """No new sandbox container from this process; wait for the creations in flight and
    return how many are still in flight (0 when Docker was never used)."""
    try:
        from clade.sandbox.docker_backend import close_creation

        return close_creation(reason, wait_s)
    except Exception:
        return 0


def _kill_own_containers(reason: str) -> None:
    _close_creation(reason, wait_s=2.0)
    remove_own_containers(kill_only=True)


def remove_own_containers(*, kill_only: bool = False) -> int:
    """Remove every sandbox container this process created, or only kill them (their
    sandboxes, still unwinding, remove them); errors are ignored."""
    try:
        from clade.sandbox.docker_backend import docker_client
        from clade.sandbox.owner import LABEL, OWNER_LABEL, owner_label

        client = docker_client(timeout=10)
    except Exception:
        return 0
    try:
        found = client.containers.list(
            all=True, filters={"label": [LABEL, f"{OWNER_LABEL}={owner_label()}"]}
        )
        threads = [
            threading.Thread(target=_remove, args=(container, kill_only), daemon=True)
            for container in found
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        return len(found)
    except Exception:
        return 0
    finally:
        with contextlib.suppress(Exception):
            client.close()


def _remove(container: Any, kill_only: bool) -> None:
    with contextlib.suppress(Exception):
        if kill_only:
            container.kill()
        else:
            container.remove(force=True)
