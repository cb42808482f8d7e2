"""Configuration of one sandbox and the result of one command run in it (pydantic)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, model_validator

#: Where the work dir lives inside a container, and where the model socket folder is mounted.
WORKDIR = "/work"
SOCKET_DIR = "/run/clade"
SOCKET_ENV = "CLADE_LLM_SOCKET"
SOCKET_NAME = "llm.sock"
#: The uid that owns the work dir and copies files in and out; slot ``k`` runs plain
#: commands as ``SLOT_UID0 + k`` (all in group ``AGENT_GID``), so a timeout can kill exactly
#: one slot's processes, even those that left their process group.
AGENT_UID = 1000
AGENT_GID = 1000
SLOT_UID0 = 1001
MAX_SLOTS = 8
OWNER = f"{AGENT_UID}:{AGENT_GID}"
#: Each workspace runs as a uid (and gid) of its own, counted up from here and never used
#: twice in one container; slot ``k``'s size-limited tmpfs is mounted at ``SLOTS_DIR/k``.
WORKSPACE_UID0 = 200_000
SLOTS_DIR = "/slots"
#: Copies of the shell and of Python that their users may run but not read: the kernel
#: marks such processes non-dumpable, so no process of the same uid can open their
#: ``/proc/PID/mem`` or ``environ`` (ptrace is denied by the seccomp profile anyway).
SHELL = "/usr/local/bin/clade-sh"
PYTHON = "/usr/local/bin/clade-python"


class SandboxConfig(BaseModel):
    """Limits and wiring of one sandbox. Defaults suit an agent; tests use smaller ones."""

    image: str = Field(
        default="clade-agent:latest",
        description="Docker image (built by `clade sandbox build`); ignored by the local backend.",
    )
    memory_mb: int = Field(
        default=2048,
        ge=32,
        description="Memory limit in MiB, no swap; the tmpfs work dir and /tmp count against it.",
    )
    cpus: float = Field(default=2.0, gt=0, le=64, description="CPU limit in cores.")
    pids_limit: int = Field(
        default=256, ge=16, description="Most processes and threads alive in the sandbox at once."
    )
    workdir_mb: int = Field(
        default=512, ge=1, description="Size of the writable work dir (a tmpfs), in MiB."
    )
    tmp_mb: int = Field(default=64, ge=1, description="Size of the tmpfs at /tmp, in MiB.")
    slot_disk_mb: int | None = Field(
        default=None,
        ge=1,
        description="Size of each slot's own tmpfs, which holds the workspace using that "
        "slot, in MiB. Default: half the memory left after the work dir and /tmp, shared "
        "among the slots, at most 256. All slots, the work dir and /tmp must fit in memory_mb.",
    )
    timeout_s: float = Field(
        default=600.0, gt=0, description="Default wall-clock limit of one command, in seconds."
    )
    output_limit_bytes: int = Field(
        default=1 << 20,
        ge=1024,
        description="Bytes of stdout and of stderr kept per command; the rest is dropped.",
    )
    output_kill_bytes: int = Field(
        default=32 << 20,
        ge=1024,
        description="A command that prints more than this (both streams) is killed.",
    )
    transfer_limit_bytes: int = Field(
        default=256 << 20, ge=1024, description="Largest tar stream `get_files` accepts."
    )
    slots: int = Field(
        default=1,
        ge=1,
        le=MAX_SLOTS,
        description="Commands that may run at once (the warm-container fast path); "
        "each slot runs as its own uid.",
    )
    env: dict[str, str] = Field(
        default_factory=dict,
        description="Environment of every command; nothing of the caller's environment leaks in.",
    )
    llm_socket_dir: Path | None = Field(
        default=None,
        description=f"Host folder holding the model socket `{SOCKET_NAME}`; mounted read-only "
        f"at {SOCKET_DIR} with ${SOCKET_ENV} pointing at the socket.",
    )
    run_id: str = Field(
        default="",
        description="Label of the run that owns the sandbox (for `clade sandbox prune`).",
    )
    labels: dict[str, str] = Field(
        default_factory=dict, description="Extra container labels (e.g. candidate, role)."
    )

    @model_validator(mode="after")
    def _disks_fit_in_memory(self) -> SandboxConfig:
        self.check_disks()
        return self

    def check_disks(self) -> None:
        """Raise ValueError unless every tmpfs at once fits in the memory limit (tmpfs pages
        count against it, so disks larger than memory would be an OOM kill, not ENOSPC)."""
        if self.slot_disk_mb is None:
            return
        total = self.slots * self.slot_disk_mb + self.workdir_mb + self.tmp_mb
        if total > self.memory_mb:
            raise ValueError(
                f"slots x slot_disk_mb + workdir_mb + tmp_mb = {total} MiB exceeds "
                f"memory_mb = {self.memory_mb}; lower slot_disk_mb or raise memory_mb"
            )

    @property
    def slot_disk(self) -> int:
        """The size of one slot's tmpfs in MiB: ``slot_disk_mb`` or its default."""
        if self.slot_disk_mb is not None:
            return self.slot_disk_mb
        left = self.memory_mb - self.workdir_mb - self.tmp_mb
        return max(1, min(256, left // (2 * self.slots)))


class ExecResult(BaseModel):
    """What one command did. ``reason`` says why it failed, or is None when it succeeded."""

    exit_code: int | None = Field(description="Exit status; None when it never finished.")
    stdout: str = Field(default="", description="Captured stdout, at most the output limit.")
    stderr: str = Field(default="", description="Captured stderr, at most the output limit.")
    duration_s: float = Field(default=0.0, description="Wall-clock time of the command.")
    timed_out: bool = Field(default=False, description="Killed at the wall-clock limit.")
    output_truncated: bool = Field(default=False, description="Output beyond the limit dropped.")
    output_killed: bool = Field(default=False, description="Killed for printing too much.")
    oom_killed: bool = Field(default=False, description="Killed at the memory limit.")
    error: str | None = Field(
        default=None, description="A failure of the sandbox itself (e.g. it had to be restarted)."
    )

    @property
    def ok(self) -> bool:
        """Finished by itself with exit status 0."""
        return self.reason is None

    @property
    def reason(self) -> str | None:
        """One line on why the command failed, None when it succeeded."""
        if self.error:
            return self.error
        if self.timed_out:
            return f"timed out after {self.duration_s:.1f}s (process tree killed)"
        if self.output_killed:
            return "killed: printed more than the output kill limit"
        if self.oom_killed:
            return "killed: out of memory (the sandbox memory limit was hit)"
        if self.exit_code is None:
            return "did not finish"
        if self.exit_code == 0:
            return None
        if self.exit_code > 128:
            return f"killed by signal {self.exit_code - 128}"
        return f"exit status {self.exit_code}"
