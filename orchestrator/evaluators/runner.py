"""Run an agent on tasks in a sandbox, and grade its work in another.

A candidate's tree holds a ``coder`` package (the seed agent's layout). For one
evaluation the agent gets one warm sandbox: its code read-only under ``agent/``, each
task in a workspace of its own (a fresh uid, a private folder on its slot's own disk,
killed, cleared and verified when the task ends), the model socket mounted, tasks run side
by side in the sandbox's slots. What the agent leaves in a task's work folder is copied out and scored;
anything that executes code for grading runs in a second, fresh sandbox with no socket,
holding only the evaluator's pristine files. Nothing the agent does can touch it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from clade.sandbox import ExecResult, FileSet, Sandbox, SandboxConfig, SandboxError, Skipped
from clade.sandbox.health import as_machine_failure, machine_failure
from clade.sandbox.sockets import socket_dir as owned_socket_dir

from .base import Evaluator, Score, Task
from .harness import SandboxGrader

SandboxFactory = Callable[[SandboxConfig], Sandbox]


#: Limits where no speed is measured (API and scripted models, an engine's first call).
UNMEASURED_SECONDS = 300.0
UNMEASURED_COMMAND_S = 30.0
#: A step's prompt (~2,000 tokens for a small model's context, processed ~4x faster than
#: tokens are generated) costs about as long as generating this many tokens.
PROMPT_AS_TOKENS = 500
#: The agent's start-up (Python, the first ``GET /v1/models``) within an attempt's time.
START_S = 15.0
#: Bounds of a command timeout sized from the speed.
COMMAND_BOUNDS_S = (10.0, 120.0)


class AgentLimits(BaseModel):
    """Limits of one agent attempt (one task, or one self-modification).

    ``auto`` times follow the engine's measured speed (``ModelLayer.tokens_per_s``), so they
    hold on a busy machine as on a quiet one: a model turn is the time to generate
    ``reply_tokens`` tokens plus a prompt at that speed; an attempt may take ``max_steps``
    turns times ``margin``, a command one turn times ``margin``. Without a measured speed
    (API models) they are 300 s and 30 s. :meth:`at_speed` resolves them.
    """

    model_config = ConfigDict(extra="forbid")

    max_steps: int = Field(default=12, ge=1, description="Model turns per attempt.")
    max_seconds: float | Literal["auto"] = Field(
        default="auto",
        description="Wall time per attempt in seconds, or auto: sized from the engine's "
        "measured tokens/s (max_steps turns of reply_tokens tokens, times margin).",
    )
    max_tokens: int = Field(
        default=30_000, ge=1, description="Tokens per attempt, over all its calls."
    )
    command_timeout: float | Literal["auto"] = Field(
        default="auto",
        description="Wall time of one shell command in seconds, or auto: one model turn at "
        "the measured speed times margin (10-120 s).",
    )
    reply_tokens: int | None = Field(
        default=None,
        ge=1,
        description="Tokens of one model reply (the agent's --reply-tokens); default: the "
        "agent role's max_tokens.",
    )
    margin: float = Field(
        default=3.0,
        ge=1.0,
        description="How many times the time its model turns need at the measured speed "
        "an attempt may take (auto limits only).",
    )

    @model_validator(mode="after")
    def _positive(self) -> AgentLimits:
        for name in ("max_seconds", "command_timeout"):
            value = getattr(self, name)
            if value != "auto" and value <= 0:
                raise ValueError(f"{name} must be a positive number of seconds or auto")
        return self

    def at_speed(self, tokens_per_s: float | None, reply_tokens: int | None = None) -> AgentLimits:
        """These limits with ``auto`` resolved for an engine generating ``tokens_per_s``
        (None: unmeasured) and replies of ``reply_tokens`` (unless set here)."""
        reply = self.reply_tokens or reply_tokens
        turn = (reply + PROMPT_AS_TOKENS) / tokens_per_s if tokens_per_s and reply else None
        update: dict[str, Any] = {"reply_tokens": reply}
        if self.max_seconds == "auto":
            update["max_seconds"] = (
                UNMEASURED_SECONDS
                if turn is None
                else round(START_S + self.margin * self.max_steps * turn, 1)
            )
        if self.command_timeout == "auto":
            low, high = COMMAND_BOUNDS_S
            update["command_timeout"] = (
                UNMEASURED_COMMAND_S
                if turn is None
                else round(min(high, max(low, self.margin * turn)), 1)
            )
        return self.model_copy(update=update)

    def seconds(self) -> float:
        """The attempt's wall time (an unresolved ``auto`` counts as unmeasured)."""
        return UNMEASURED_SECONDS if self.max_seconds == "auto" else float(self.max_seconds)

    def command_seconds(self) -> float:
        return (
            UNMEASURED_COMMAND_S if self.command_timeout == "auto" else float(self.command_timeout)
        )

    def argv(self) -> list[str]:
        args = [
            "--max-steps", str(self.max_steps), "--max-seconds", str(self.seconds()),
            "--max-tokens", str(self.max_tokens), "--command-timeout", str(self.command_seconds()),
        ]  # fmt: skip
        if self.reply_tokens is not None:
            args += ["--reply-tokens", str(self.reply_tokens)]
        return args


#: What one attempt's outputs may bring back to the host by default: each file, and all of
#: them together (each file also counts 1 KiB and its name's length).
MAX_OUTPUT_FILE_BYTES = 256 << 10
MAX_OUTPUT_TOTAL_BYTES = 4 << 20
_AGENT_ARGV = [
    "python3", "-m", "coder", "--task-file", "../task.md", "--workdir", ".",
    "--trajectory", "../trajectory.jsonl",
]  # fmt: skip


@dataclass
class Attempt:
    """What one agent attempt left behind: the files of its work folder (within the
    session's caps), its trajectory, the agent's exit, and what was not read back and why
    (``skipped``: path in the work folder -> :class:`Skipped`, e.g. ``answer.txt`` too large,
    a symlink or a FIFO), so an evaluator can tell "too large" from "missing"."""

    outputs: dict[str, bytes]
    trajectory: str
    result: ExecResult
    skipped: dict[str, Skipped] = field(default_factory=dict)
    #: Skipped paths beyond those named in ``skipped``.
    more_skipped: int = 0

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

    def notes(self) -> list[str]:
        """One line per output that was not read back, with the reason."""
        return FileSet(skipped=self.skipped, more_skipped=self.more_skipped).notes()

    def log(self, limit: int = 20_000) -> str:
        """The attempt's log for the archive: the agent's exit, the outputs not read back,
        then its trajectory's tail."""
        head = f"agent exit: {self.result.reason or 'ok'}\nstdout: {self.result.stdout[-2000:]}\nstderr: {self.result.stderr[-2000:]}\n"
        notes = self.notes()
        if notes:
            head += "not read back: " + "; ".join(notes)[:2000] + "\n"
        return head + "trajectory:\n" + self.trajectory[-limit:]


class AgentSession:
    """One warm sandbox holding one agent's code; ``attempt`` runs it on a task.

    The agent's code is put once, read-only and shared, under ``agent/`` of the sandbox's
    work dir by its owner uid (again after the sandbox restarted). Every attempt runs in a
    workspace of its own (a fresh uid, a private folder on its slot's own disk, cleared and
    verified when the attempt ends), and its outputs come back within ``max_file_bytes``
    per file and ``max_total_bytes`` in all.
    """

    def __init__(
        self,
        box: Sandbox,
        limits: AgentLimits,
        agent_files: Mapping[str, bytes] | None = None,
        *,
        max_file_bytes: int = MAX_OUTPUT_FILE_BYTES,
        max_total_bytes: int = MAX_OUTPUT_TOTAL_BYTES,
    ) -> None:
        self.box, self.limits = box, limits
        self.max_file_bytes, self.max_total_bytes = max_file_bytes, max_total_bytes
        self._agent = dict(agent_files) if agent_files is not None else None
        self._agent_at: int | None = None  # the box's restart count when the code was put
        self._lock = threading.Lock()
        self._put_agent()

    def _put_agent(self) -> None:
        with self._lock:
            if self._agent is None or self._agent_at == self.box.restarts:
                return
            files = {f"agent/{p}": d for p, d in self._agent.items()}
            self.box.put_files(files, writable=False)
            self._agent_at = self.box.restarts

    def attempt(self, task: Task, files: Mapping[str, bytes] | None = None) -> Attempt:
        """Run the agent on ``task`` in a fresh workspace; ``files`` replace ``task.files``
        (a self-modification passes the agent's own tree and gets the child's back)."""
        self._put_agent()
        start = files if files is not None else {p: t.encode() for p, t in task.files.items()}
        with self.box.workspace() as ws:
            # Writable (the workspace's own): the work folder and the trajectory file; the
            # statement is read-only (the owner's).
            own = {"work/.keep": b"", "trajectory.jsonl": b""}
            ws.put_files({f"work/{p}": data for p, data in start.items()} | own)
            ws.put_files({"task.md": task.statement.encode()}, writable=False)
            result = ws.run(
                _AGENT_ARGV + self.limits.argv(),
                workdir="work",
                env={"PYTHONPATH": f"{self.box.workdir}/agent", "PYTHONDONTWRITEBYTECODE": "1"},
                timeout_s=self.limits.seconds() + 30,
            )
            try:
                found = ws.get_files(
                    "work", max_file_bytes=self.max_file_bytes, max_total_bytes=self.max_total_bytes
                )
                log = ws.get_files("trajectory.jsonl", max_file_bytes=self.max_total_bytes)
            except SandboxError:
                if not result.error:  # not a workspace lost with a restart the result reports
                    raise
                found, log = FileSet(), FileSet()
        outputs = {p: d for p, d in found.items() if p != ".keep"}
        trajectory = log.get("trajectory.jsonl", b"").decode("utf-8", errors="replace")
        if "trajectory.jsonl" in log.skipped:
            trajectory = f"(trajectory.jsonl not read back: {log.skipped['trajectory.jsonl']})"
        return Attempt(outputs, trajectory, result, dict(found.skipped), found.more_skipped)


def agent_image() -> str:
    """The tag of the agent image for the configured base image, built when out of date."""
    from clade.orchestrator.config import settings
    from clade.sandbox.images import build_agent_image

    return build_agent_image(settings().base_image).tag


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
            # A short temp folder named after this process (AF_UNIX paths are ~100 bytes);
            # removed on exit, and swept by `clade sandbox prune` when its owner is gone.
            socket_dir = stack.enter_context(owned_socket_dir())
            stack.enter_context(serve_socket(socket_dir / "llm.sock"))
        box = stack.enter_context(factory(config.model_copy(update={"llm_socket_dir": socket_dir})))
        grading = stack.enter_context(
            factory(config.model_copy(update={"llm_socket_dir": None, "env": {}}))
        )
        yield AgentSession(box, limits, agent_files), SandboxGrader(grading)


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
            if machine_failure(exc, docker=session.box.isolated):  # the engine's, not the task's
                raise as_machine_failure(exc) from exc
            return Score(score=0.0, passed=False, detail=f"sandbox error: {exc}"), {"log": str(exc)}
        try:
            score = evaluator.score(task, attempt.text_outputs(), grader)
        except Exception as exc:  # a broken scorer fails this task, not the run
            if machine_failure(exc, docker=grader.box.isolated):
                raise as_machine_failure(exc) from exc
            score = Score(
                score=0.0, passed=False, detail=f"scoring failed: {type(exc).__name__}: {exc}"
            )
        if not score.passed and attempt.result.reason:  # say when the agent itself crashed
            detail = f"agent: {attempt.result.reason}; {score.detail}"
            score = score.model_copy(update={"detail": detail[:2000]})
        if not score.passed and attempt.notes():  # "answer.txt is missing" because it was too large
            detail = f"{score.detail}; not read back: {'; '.join(attempt.notes())}"
            score = score.model_copy(update={"detail": detail[:2000]})
        facts = {
            "duration_s": attempt.result.duration_s,
            "tokens": attempt.tokens,
            "log": f"score: {score.score} {score.detail}\n{attempt.log()}",
        }
        return score, facts

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        return list(pool.map(one, tasks))
