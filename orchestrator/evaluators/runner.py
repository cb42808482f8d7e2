"""Run an agent on tasks in a sandbox, and grade its work in another.

A candidate's tree holds a ``coder`` package (the seed agent's layout). For one
evaluation the agent gets one warm sandbox: its code read-only under ``agent/``, each
task in its own folder, the model socket mounted, tasks run side by side in the
sandbox's slots. What the agent leaves in a task's work folder is copied out and scored;
anything that executes code for grading runs in a second, fresh sandbox with no socket,
holding only the evaluator's pristine files. Nothing the agent does can touch it.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from clade.sandbox import ExecResult, Sandbox, SandboxConfig, SandboxError

from .base import Evaluator, GradeResult, Score, Task

SandboxFactory = Callable[[SandboxConfig], Sandbox]


class AgentLimits(BaseModel):
    """Limits of one agent attempt (one task, or one self-modification)."""

    model_config = ConfigDict(extra="forbid")

    max_steps: int = Field(default=12, ge=1, description="Model turns per attempt.")
    max_seconds: float = Field(default=300.0, gt=0, description="Wall time per attempt.")
    max_tokens: int = Field(
        default=30_000, ge=1, description="Tokens per attempt, over all its calls."
    )
    command_timeout: float = Field(
        default=30.0, gt=0, description="Wall time of one shell command."
    )

    def argv(self) -> list[str]:
        return [
            "--max-steps", str(self.max_steps), "--max-seconds", str(self.max_seconds),
            "--max-tokens", str(self.max_tokens), "--command-timeout", str(self.command_timeout),
        ]  # fmt: skip


@dataclass
class Attempt:
    """What one agent attempt left behind."""

    outputs: dict[str, bytes]
    trajectory: str
    result: ExecResult

    @property
    def tokens(self) -> int:
        for line in reversed(self.trajectory.splitlines()):
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if event.get("event") == "end":
                return int(event.get("tokens", 0))
        return 0

    def text_outputs(self) -> dict[str, str]:
        return {path: data.decode("utf-8", errors="replace") for path, data in self.outputs.items()}

    def log(self, limit: int = 20_000) -> str:
        """The attempt's log for the archive: the agent's exit, then its trajectory's tail."""
        head = f"agent exit: {self.result.reason or 'ok'}\nstdout: {self.result.stdout[-2000:]}\nstderr: {self.result.stderr[-2000:]}\n"
        return head + "trajectory:\n" + self.trajectory[-limit:]


class AgentSession:
    """One warm sandbox holding one agent's code; ``attempt`` runs it on a task."""

    def __init__(self, box: Sandbox, limits: AgentLimits) -> None:
        self.box, self.limits = box, limits
        self._count = 0

    def attempt(self, task: Task, files: Mapping[str, bytes] | None = None) -> Attempt:
        """Run the agent on ``task`` in a fresh folder; ``files`` replace ``task.files``."""
        self._count += 1
        folder = f"tasks/{self._count}"
        start = files if files is not None else {p: t.encode() for p, t in task.files.items()}
        # Writable: the work folder and the trajectory file (the task statement is read-only).
        writable = {f"{folder}/work/.keep": b"", f"{folder}/trajectory.jsonl": b""}
        self.box.put_files({f"{folder}/work/{p}": data for p, data in start.items()} | writable)
        # Read-only puts go through `dest`: the tar then holds no entry for shared parent
        # folders (tasks/), which would otherwise be made read-only too.
        self.box.put_files({"task.md": task.statement.encode()}, dest=folder, writable=False)
        argv = [
            "python3",
            "-m",
            "coder",
            "--task-file",
            "../task.md",
            "--workdir",
            ".",
            "--trajectory",
            "../trajectory.jsonl",
        ]
        result = self.box.run(
            argv + self.limits.argv(),
            workdir=f"{folder}/work",
            env={"PYTHONPATH": f"{self.box.workdir}/agent", "PYTHONDONTWRITEBYTECODE": "1"},
            timeout_s=self.limits.max_seconds + 30,
        )
        outputs = {p: d for p, d in self.box.get_files(f"{folder}/work").items() if p != ".keep"}
        trajectory = (
            self.box.get_files(folder)
            .get("trajectory.jsonl", b"")
            .decode("utf-8", errors="replace")
        )
        return Attempt(outputs, trajectory, result)


class SandboxGrader:
    """Grades in a fresh sandbox of its own: no model socket, each grade in a new folder
    whose files the graded code cannot change."""

    def __init__(self, box: Sandbox) -> None:
        self.box = box
        self._count = 0

    def run(self, files: Mapping[str, str], command: list[str], timeout: float) -> GradeResult:
        self._count += 1
        folder = f"grade/{self._count}"
        self.box.put_files({p: t.encode() for p, t in files.items()}, dest=folder, writable=False)
        result = self.box.run(command, workdir=folder, timeout_s=timeout)
        return GradeResult(
            exit_code=result.exit_code if result.exit_code is not None else -1,
            output=(result.stdout + result.stderr)[-20_000:],
            timed_out=result.timed_out,
        )


@contextmanager
def agent_sandboxes(
    factory: SandboxFactory,
    config: SandboxConfig,
    agent_files: Mapping[str, bytes],
    limits: AgentLimits,
    serve_socket: Callable[[Path], Any] | None = None,
) -> Iterator[tuple[AgentSession, SandboxGrader]]:
    """An agent sandbox (socket mounted when ``serve_socket`` is given) and a grading one."""
    with ExitStack() as stack:
        socket_dir = None
        if serve_socket is not None:
            # AF_UNIX paths are short (~100 bytes): keep the socket in a short temp folder.
            socket_dir = Path(tempfile.mkdtemp(prefix="clade-sock-"))
            socket_dir.chmod(0o755)  # the sandbox's non-root user must reach the socket
            stack.callback(shutil.rmtree, socket_dir, ignore_errors=True)
            stack.enter_context(serve_socket(socket_dir / "llm.sock"))
        box = stack.enter_context(factory(config.model_copy(update={"llm_socket_dir": socket_dir})))
        box.put_files({f"agent/{p}": d for p, d in agent_files.items()}, writable=False)
        grading = stack.enter_context(
            factory(config.model_copy(update={"llm_socket_dir": None, "env": {}}))
        )
        yield AgentSession(box, limits), SandboxGrader(grading)


def run_tasks(
    session: AgentSession,
    grader: SandboxGrader,
    evaluator: Evaluator,
    tasks: list[Task],
    parallel: int,
) -> list[tuple[Score, dict[str, Any]]]:
    """Attempt and score every task, ``parallel`` at a time; results in task order."""

    def one(task: Task) -> tuple[Score, dict[str, Any]]:
        try:
            attempt = session.attempt(task)
        except SandboxError as exc:  # the sandbox failed this task: a failed task, not a failed run
            return Score(score=0.0, passed=False, detail=f"sandbox error: {exc}"), {"log": str(exc)}
        try:
            score = evaluator.score(task, attempt.text_outputs(), grader)
        except Exception as exc:  # a broken scorer fails this task, not the run
            score = Score(
                score=0.0, passed=False, detail=f"scoring failed: {type(exc).__name__}: {exc}"
            )
        if not score.passed and attempt.result.reason:  # say when the agent itself crashed
            detail = f"agent: {attempt.result.reason}; {score.detail}"
            score = score.model_copy(update={"detail": detail[:2000]})
        facts = {
            "duration_s": attempt.result.duration_s,
            "tokens": attempt.tokens,
            "log": f"score: {score.score} {score.detail}\n{attempt.log()}",
        }
        return score, facts

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        return list(pool.map(one, tasks))
