"""Fixtures of the sandbox tests: the agent image, small limits, and a leak check."""

from __future__ import annotations

import uuid

import pytest

from tests.exploits._sandbox_agents import remove_run as _remove_run

#: Small limits so every hostile case ends in seconds.
SMALL = {
    "memory_mb": 256,
    "cpus": 1.0,
    "pids_limit": 64,
    "workdir_mb": 16,
    "tmp_mb": 8,
    "timeout_s": 5.0,
    "output_limit_bytes": 64 << 10,
    "output_kill_bytes": 2 << 20,
}


@pytest.fixture(scope="session")
def agent_image() -> str:
    """The agent image for the configured base, built when missing."""
    from clade.orchestrator.config import settings
    from clade.sandbox.images import build_agent_image

    return build_agent_image(settings().base_image).tag


@pytest.fixture
def run_id():
    """A run label unique to the test; fails the test if a container of it is left over."""
    rid = f"test-{uuid.uuid4().hex[:12]}"
    yield rid
    left = _remove_run(rid)
    assert not left, f"containers left behind: {left}"


def stray_processes(container_id: str) -> list[str]:
    """Command lines of processes left in the container by commands (slot uids)."""
    import docker

    code = (
        "import os\n"
        "for p in os.listdir('/proc'):\n"
        "    if p.isdigit() and int(p) != os.getpid():\n"
        "        try:\n"
        "            if os.stat('/proc/' + p).st_uid > 1000:\n"
        "                print(open(f'/proc/{p}/cmdline', 'rb').read().replace(b'\\0', b' ').decode())\n"
        "        except OSError: pass\n"
    )
    client = docker.from_env()
    try:
        done = client.containers.get(container_id).exec_run(["python3", "-c", code], user="1000")
    finally:
        client.close()
    assert done.exit_code == 0, done.output
    return [line for line in done.output.decode().splitlines() if line.strip()]
