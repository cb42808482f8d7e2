"""Expert Python's interpreter: code the expert asks to run goes into a Docker sandbox.

One warm sandbox serves a whole solve; each run writes a fresh file and runs it with a
short wall-clock limit (3 s by default). The sandbox has no network, no model socket and
an empty environment, so the code can reach neither the outside nor any key.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from clade.sandbox.protocol import ManagedSandbox

#: Characters of each output stream shown to the conductor.
SHOWN_CHARS = 4000


class PythonRun(BaseModel):
    """What one run of Expert Python's code did."""

    code: str = Field(description="The code that ran.")
    stdout: str = Field(default="", description="Its standard output.")
    stderr: str = Field(default="", description="Its standard error (tracebacks).")
    exit_code: int | None = Field(default=None, description="Exit status; None if killed.")
    timed_out: bool = Field(default=False, description="Killed at the time limit.")
    timeout_s: float = Field(description="The time limit it ran under, in seconds.")
    error: str | None = Field(default=None, description="Why the sandbox itself failed, if it did.")


@runtime_checkable
class PythonExpert(Protocol):
    """Runs Expert Python's code somewhere isolated."""

    timeout_s: float

    def run(self, code: str) -> PythonRun:
        """Run ``code`` as a fresh script and report what it did."""
        ...


def report(run: PythonRun) -> str:
    """The text appended to Expert Python's reply after its code ran."""
    from clade.prompts import render

    return render(
        "conductor_code_output",
        code=run.code,
        stdout=run.stdout[-SHOWN_CHARS:].rstrip(),
        stderr=run.stderr[-SHOWN_CHARS:].rstrip(),
        exit_code=run.exit_code,
        timed_out=run.timed_out,
        timeout_s=f"{run.timeout_s:g}",
        error=run.error,
    ).strip()


class SandboxPython(ManagedSandbox):
    """A :class:`PythonExpert` backed by one warm Docker sandbox (a context manager:
    entering starts it, leaving stops it)."""

    def __init__(
        self,
        *,
        image: str | None = None,
        timeout_s: float = 3.0,
        memory_mb: int = 256,
        run_id: str = "",
    ) -> None:
        self.timeout_s = timeout_s
        self._image = image
        self._memory_mb = memory_mb
        self._run_id = run_id
        self._sandbox: Any = None
        self._lock = threading.Lock()
        self._counter = itertools.count(1)

    def start(self) -> None:
        """Start the sandbox (building the agent image when it is out of date)."""
        from clade.sandbox import DockerSandbox, SandboxConfig

        if self._sandbox is not None:
            return
        image = self._image
        if image is None:
            from clade.orchestrator.evaluators.runner import agent_image

            image = agent_image()
        config = SandboxConfig(
            image=image,
            memory_mb=self._memory_mb,
            cpus=1.0,
            pids_limit=64,
            workdir_mb=32,
            tmp_mb=16,
            timeout_s=self.timeout_s,
            output_limit_bytes=64 << 10,
            output_kill_bytes=4 << 20,
            run_id=self._run_id,
            labels={"clade.role": "python-expert"},
        )
        sandbox = DockerSandbox(config)
        sandbox.start()
        self._sandbox = sandbox

    def stop(self) -> None:
        """Stop the sandbox and remove its container; idempotent."""
        sandbox, self._sandbox = self._sandbox, None
        if sandbox is not None:
            sandbox.stop()

    @property
    def container_id(self) -> str | None:
        """The sandbox's container id while it runs."""
        return None if self._sandbox is None else self._sandbox.container_id

    def run(self, code: str) -> PythonRun:
        self.start()
        with self._lock:
            name = f"expert_python_{next(self._counter)}.py"
        self._sandbox.put_files({name: code.encode()})
        result = self._sandbox.run(["python3", name], timeout_s=self.timeout_s)
        return PythonRun(
            code=code,
            stdout=result.stdout,
            stderr=result.stderr,
            exit_code=result.exit_code,
            timed_out=result.timed_out,
            timeout_s=self.timeout_s,
            error=result.error,
        )
