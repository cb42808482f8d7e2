"""Creating a sandbox container: the engine client, the container's settings, and the
mapping of the engine's refusals to one-line errors. Nothing is left behind on failure."""

from __future__ import annotations

import threading
import time
from typing import Any

from clade.sandbox import _seccomp
from clade.sandbox.config import (
    AGENT_GID,
    AGENT_UID,
    SLOTS_DIR,
    SOCKET_DIR,
    WORKDIR,
    SandboxConfig,
)
from clade.sandbox.errors import ContainerStartError, ImageMissing, SandboxError, SandboxUnavailable
from clade.sandbox.owner import labels_for

#: PID 1: reaps orphans so zombies never eat the pids limit; as namespace init it ignores
#: every signal sent from inside.
REAPER = (
    "import os, signal\n"
    "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})\n"
    "while True:\n"
    "    try:\n"
    "        while os.waitpid(-1, os.WNOHANG)[0] > 0: pass\n"
    "    except ChildProcessError: pass\n"
    "    signal.sigtimedwait({signal.SIGCHLD}, 60)\n"
)


def docker_client(timeout: int = 60) -> Any:
    """A docker SDK client that answers, or :class:`SandboxUnavailable` with the fix."""
    try:
        import docker

        client = docker.from_env(timeout=timeout)
        client.ping()
    except Exception as exc:
        raise SandboxUnavailable(
            f"no Docker engine answers ({type(exc).__name__})",
            hint="start Docker (`make setup` as root installs and starts it); without Docker "
            "only the unsafe local backend runs (`clade sandbox run --backend local`)",
        ) from exc
    return client


SHM_MB = 8


def tmpfs_mounts(cfg: SandboxConfig) -> dict[str, str]:
    """The container's writable places: the shared work dir (the owner's; plain commands
    write in it through its group), ``/tmp``, ``/dev/shm``, and one tmpfs per slot for the
    workspace that holds the slot (its own size and inode limits, so no task can fill
    another's disk)."""
    try:
        cfg.check_disks()
    except ValueError as exc:
        raise SandboxError(str(exc), hint="see the sandbox's slot_disk_mb") from None
    slot_mb = cfg.slot_disk
    owner = f"uid={AGENT_UID},gid={AGENT_GID}"
    return {
        WORKDIR: f"size={cfg.workdir_mb}m,{owner},mode=1775",
        "/tmp": f"size={cfg.tmp_mb}m,nr_inodes={_inodes(cfg.tmp_mb)},mode=1777",
        "/dev/shm": f"size={SHM_MB}m,nr_inodes={_inodes(SHM_MB)},mode=1777",
        **{
            f"{SLOTS_DIR}/{k}": f"size={slot_mb}m,nr_inodes={_inodes(slot_mb)},{owner},mode=0711"
            for k in range(cfg.slots)
        },
    }


def _inodes(size_mb: int) -> int:
    """Files a tmpfs of this size may hold: 64 a MiB, at least 4096 (empty files take no
    space but inodes, and every one has to be deleted when a workspace is left)."""
    return max(4096, 64 * size_mb)


class _Creations:
    """This process's container creations in flight, and whether new ones are refused."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.closed = ""
        self.in_flight = 0


_creations = _Creations()


def close_creation(reason: str, wait_s: float = 5.0) -> int:
    """Refuse every later container of this process (a stopping run), then wait up to
    ``wait_s`` for the creations already in flight, so a sweep after it sees them all.
    Returns how many are still in flight (the daemon finishes them even if we exit)."""
    deadline = time.monotonic() + wait_s
    with _creations.changed:
        _creations.closed = reason
        while _creations.in_flight and time.monotonic() < deadline:
            _creations.changed.wait(max(0.0, deadline - time.monotonic()))
        return _creations.in_flight


def create_container(client: Any, cfg: SandboxConfig) -> Any:
    """Create and start the container of ``cfg``; remove it again if it does not start.
    Refused once :func:`close_creation` was called."""
    with _creations.changed:
        if _creations.closed:
            raise SandboxError(
                f"no new sandbox: this process is stopping ({_creations.closed})",
                hint="resume the run with `clade run --resume RUN`",
            )
        _creations.in_flight += 1
    try:
        return _create(client, cfg)
    finally:
        with _creations.changed:
            _creations.in_flight -= 1
            _creations.changed.notify_all()


def _create(client: Any, cfg: SandboxConfig) -> Any:
    import docker
    from docker.types import LogConfig, Mount, Ulimit

    tmpfs = tmpfs_mounts(cfg)
    mounts = []
    if cfg.llm_socket_dir is not None:
        if not cfg.llm_socket_dir.is_dir():
            raise SandboxError(
                f"model socket folder {cfg.llm_socket_dir} does not exist",
                hint="start the model gateway first, or leave llm_socket_dir unset",
            )
        mounts.append(
            Mount(SOCKET_DIR, str(cfg.llm_socket_dir.resolve()), type="bind", read_only=True)
        )
    try:
        container = client.containers.create(
            cfg.image,
            ["python3", "-c", REAPER],
            user=f"{AGENT_UID}:{AGENT_GID}",
            network_mode="none",
            read_only=True,
            tmpfs=tmpfs,
            mem_limit=f"{cfg.memory_mb}m",
            memswap_limit=f"{cfg.memory_mb}m",
            nano_cpus=int(cfg.cpus * 1e9),
            pids_limit=cfg.pids_limit,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges", _seccomp.security_opt()],
            ulimits=[Ulimit(name="core", soft=0, hard=0)],
            mounts=mounts,
            working_dir=WORKDIR,
            hostname="sandbox",
            log_config=LogConfig(type="none"),
            labels=labels_for(cfg.run_id, cfg.labels),
        )
    except docker.errors.ImageNotFound as exc:
        raise ImageMissing(
            f"sandbox image {cfg.image} not found", hint="build it with `clade sandbox build`"
        ) from exc
    except docker.errors.APIError as exc:
        raise ContainerStartError(
            f"the engine refused the container: {exc.explanation or exc}",
            hint="check `clade doctor` and the sandbox limits",
        ) from exc
    try:
        container.start()
    except BaseException as exc:  # a signal while starting must not orphan the container
        container.remove(force=True)
        if isinstance(exc, docker.errors.APIError):
            raise ContainerStartError(
                f"the container did not start: {exc.explanation or exc}",
                hint="check `clade doctor`, the image and the sandbox limits",
            ) from exc
        raise
    return container
