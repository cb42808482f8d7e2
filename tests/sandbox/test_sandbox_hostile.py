"""A hostile agent against the real Docker sandbox: every attack is contained, reported as
a failed command with its reason, and leaves the host and the sandbox usable.

One sandbox (small limits) serves the module; after each attack the sandbox must still run
a command and hold no process of any command.
"""

from __future__ import annotations

import resource
import shutil
import time
import uuid

import pytest

from clade.sandbox import DockerSandbox, SandboxConfig

from .conftest import SMALL, _remove_run, stray_processes

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def sandbox(agent_image):
    rid = f"test-hostile-{uuid.uuid4().hex[:8]}"
    try:
        with DockerSandbox(SandboxConfig(image=agent_image, run_id=rid, slots=2, **SMALL)) as sb:
            yield sb
    finally:
        assert not _remove_run(rid), "the hostile sandbox was left behind"


@pytest.fixture
def contained(sandbox):
    """After the attack: the sandbox still works and no command process survives."""
    yield sandbox
    health = sandbox.run(["python3", "-c", "print('alive')"], timeout_s=10)
    assert health.ok and health.stdout == "alive\n", health
    assert stray_processes(sandbox.container_id) == []


def py(code: str) -> list[str]:
    return ["python3", "-c", code]


def test_network_egress_dns_and_raw_ip(contained):
    dns = contained.run(py("import socket; socket.getaddrinfo('pypi.org', 443)"))
    assert not dns.ok and "gaierror" in dns.stderr, dns
    for address in ("1.1.1.1", "172.17.0.1"):  # a public IP and the Docker host's bridge
        raw = contained.run(
            py(f"import socket; socket.create_connection(('{address}', 80), timeout=2)")
        )
        assert not raw.ok and "Network is unreachable" in raw.stderr, raw
    assert contained.run(py("import socket; socket.socket().bind(('0.0.0.0', 0))")).ok
    ifaces = contained.run(["cat", "/proc/net/dev"]).stdout
    assert "eth0" not in ifaces


def test_host_files_and_orchestrator_env_are_out_of_reach(contained, tmp_path, monkeypatch):
    secret = tmp_path / "secret.txt"
    secret.write_text("hunter2")
    monkeypatch.setenv("CLADE_TEST_SECRET", "hunter2")
    result = contained.run(
        ["sh", "-c", f"cat {secret}; cat /proc/*/environ; env; ls /var/run/docker.sock"]
    )
    assert not result.ok and "hunter2" not in result.stdout + result.stderr
    assert "No such file" in result.stderr
    mounts = contained.run(["cat", "/proc/self/mounts"]).stdout
    assert str(tmp_path) not in mounts and "docker.sock" not in mounts


def test_writes_outside_the_work_dir_fail(contained):
    targets = ["/evil", "/etc/evil", "/usr/lib/evil", "/bin/sh", "/run/evil", "/var/evil"]
    script = "".join(f"(echo x > {t}) 2>/dev/null && echo WROTE {t}; " for t in targets)
    result = contained.run(["sh", "-c", script + "exit 1"])
    assert "WROTE" not in result.stdout and result.reason == "exit status 1"
    assert contained.run(["sh", "-c", "echo ok > /work/fine && echo ok > /tmp/fine"]).ok


def test_fork_bomb(contained):
    bomb = "import os\nwhile True:\n    try: os.fork()\n    except OSError: pass"
    result = contained.run(py(bomb), timeout_s=3)
    assert result.timed_out and "timed out" in (result.reason or "")


def test_fork_bomb_that_escapes_its_process_group(contained):
    bomb = "import os\nwhile True:\n    try:\n        if os.fork() == 0: os.setsid()\n    except OSError: pass"
    result = contained.run(py(bomb), timeout_s=3)
    assert not result.ok and result.timed_out


def test_memory_bomb(contained):
    result = contained.run(py("blocks = []\nwhile True: blocks.append(bytearray(16 << 20))"))
    assert result.oom_killed and "out of memory" in (result.reason or ""), result


def test_disk_fill_hits_the_work_dir_quota(contained):
    free_before = shutil.disk_usage("/").free
    for target in ("/work/fill", "/tmp/fill"):
        fill = f"dd if=/dev/zero of={target} bs=1M count=200; rc=$?; rm -f {target}; exit $rc"
        result = contained.run(["sh", "-c", fill])
        assert not result.ok and "No space left" in result.stderr, result
    assert abs(shutil.disk_usage("/").free - free_before) < 64 << 20


def test_infinite_loop(contained):
    start = time.monotonic()
    result = contained.run(py("while True: pass"), timeout_s=2)
    assert result.timed_out and time.monotonic() - start < 6


def test_sleeping_past_the_timeout(contained):
    start = time.monotonic()
    result = contained.run(["sleep", "600"], timeout_s=2)
    assert result.timed_out and result.exit_code == 137 and time.monotonic() - start < 6


def test_printing_gigabytes(contained):
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.monotonic()
    result = contained.run(["head", "-c", "4G", "/dev/zero"], timeout_s=30)
    assert result.output_killed and "printed more" in (result.reason or "")
    assert len(result.stdout) <= SMALL["output_limit_bytes"]
    assert time.monotonic() - start < 10
    growth_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    assert growth_kib < 64 << 10


def test_killing_its_parent_and_every_process_it_can(contained):
    parent = contained.run(["sh", "-c", "setsid sleep 300 & kill -9 $PPID; sleep 300"], timeout_s=3)
    assert not parent.ok and parent.reason, parent
    everyone = contained.run(["sh", "-c", "kill -9 -1; sleep 300"], timeout_s=3)
    assert not everyone.ok and everyone.reason, everyone
    frozen = contained.run(["sh", "-c", "kill -STOP -1; sleep 300"], timeout_s=2)
    assert frozen.timed_out, frozen  # it stopped its own `timeout`: the host's deadline acts


def test_daemon_left_behind_by_a_successful_command_is_killed(contained):
    result = contained.run(["sh", "-c", "setsid sleep 300 >/dev/null 2>&1 < /dev/null &"])
    assert result.ok
    # the `contained` fixture asserts that the daemon is gone


def test_batch_tasks_that_escape_or_kill_the_runner(contained):
    from clade.sandbox.batch import run_batch

    escape = run_batch(contained, [["sh", "-c", "setsid sleep 300 >/dev/null 2>&1 &"]], timeout_s=2)
    assert escape[0].ok  # its daemon dies with the batch (checked by `contained`)
    killer = ["python3", "-c", "import os, signal; os.kill(os.getppid(), signal.SIGKILL)"]
    results = run_batch(contained, [killer, ["sleep", "1"]], timeout_s=3, workers=1)
    assert all(not r.ok and "batch runner ended" in (r.reason or "") for r in results)
