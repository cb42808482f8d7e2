"""What every Sandbox backend must do: the same tests run on Docker and on the local one."""

from __future__ import annotations

import time

import pytest

from clade.sandbox import SandboxConfig, SandboxError, make_sandbox

from .conftest import SMALL

BACKENDS = [pytest.param("docker", marks=pytest.mark.docker), "local"]


@pytest.fixture(params=BACKENDS)
def sandbox(request, tmp_path):
    backend = request.param
    if backend == "docker":
        image = request.getfixturevalue("agent_image")
        run_id = request.getfixturevalue("run_id")
        config = SandboxConfig(image=image, run_id=run_id, slots=2, **SMALL)
    else:
        config = SandboxConfig(slots=2, **SMALL)
    with make_sandbox(config, backend) as sb:
        yield sb


def test_runs_a_command_and_reports_its_status(sandbox):
    ok = sandbox.run(["python3", "-c", "import sys; print('out'); print('err', file=sys.stderr)"])
    assert ok.ok and ok.exit_code == 0 and ok.reason is None
    assert (ok.stdout, ok.stderr) == ("out\n", "err\n")
    bad = sandbox.run(["python3", "-c", "raise SystemExit(3)"])
    assert bad.exit_code == 3 and not bad.ok and bad.reason == "exit status 3"


def test_stdin_env_and_workdir(sandbox):
    sandbox.put_files({"sub/keep.txt": b"x"})
    result = sandbox.run(
        ["python3", "-c", "import os,sys; print(sys.stdin.read(), os.environ['FOO'], os.getcwd())"],
        stdin=b"hello",
        env={"FOO": "bar"},
        workdir="sub",
    )
    assert result.stdout.split() == ["hello", "bar", f"{sandbox.workdir}/sub"]


def test_callers_environment_does_not_leak(sandbox, monkeypatch):
    monkeypatch.setenv("CLADE_TEST_SECRET", "hunter2")
    result = sandbox.run(["env"])
    assert result.ok and "hunter2" not in result.stdout


def test_files_round_trip(sandbox):
    files = {"a.py": b"print(1)\n", "pkg/deep/b.bin": bytes(range(256))}
    sandbox.put_files(files, "in")
    assert sandbox.get_files("in") == files
    assert sandbox.get_files("in/a.py") == {"a.py": b"print(1)\n"}
    made = sandbox.run(["python3", "-c", "open('out.txt', 'w').write('made')"], workdir="in")
    assert made.ok
    assert sandbox.get_files("in")["out.txt"] == b"made"
    with pytest.raises(SandboxError):
        sandbox.get_files("missing")
    with pytest.raises(SandboxError):
        sandbox.put_files({"x": b""}, "../outside")


def test_read_only_files_cannot_be_changed(sandbox):
    sandbox.put_files({"test_x.py": b"assert True\n"}, "tests", writable=False)
    result = sandbox.run(
        ["python3", "-c", "open('tests/test_x.py', 'w').write('tampered')"], timeout_s=5
    )
    if sandbox.isolated:
        assert not result.ok and "Permission" in result.stderr
        assert sandbox.get_files("tests") == {"test_x.py": b"assert True\n"}
    else:  # the local backend runs as the caller (root here): documented UNSAFE, and it is
        assert result.ok and sandbox.get_files("tests") == {"test_x.py": b"tampered"}


def test_timeout_kills_the_process_tree(sandbox):
    start = time.monotonic()
    script = "sleep 30 & sleep 30; echo done"
    result = sandbox.run(["sh", "-c", script], timeout_s=1)
    assert result.timed_out and not result.ok and "timed out" in (result.reason or "")
    assert time.monotonic() - start < 8
    after = sandbox.run(["sh", "-c", "echo alive"], timeout_s=5)
    assert after.ok and after.stdout == "alive\n"


def test_output_is_capped(sandbox):
    result = sandbox.run(["python3", "-c", "print('x' * 200_000)"])
    assert result.exit_code == 0 and result.output_truncated
    assert len(result.stdout) == SMALL["output_limit_bytes"]


def test_slots_run_commands_at_once(sandbox):
    from concurrent.futures import ThreadPoolExecutor

    start = time.monotonic()
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: sandbox.run(["sleep", "2"]), range(2)))
    assert all(r.ok for r in results)
    assert time.monotonic() - start < 3.6  # one after the other would take 4 s


def test_stop_is_idempotent_and_run_after_stop_fails(sandbox):
    sandbox.stop()
    sandbox.stop()
    with pytest.raises(SandboxError):
        sandbox.run(["true"])


def test_batch_runs_tasks_with_their_own_timeouts(sandbox):
    from clade.sandbox.batch import run_batch

    commands = [
        ["python3", "-c", "print('a')"],
        ["python3", "-c", "raise SystemExit(2)"],
        ["sleep", "30"],
        ["python3", "-c", "print('x' * 100_000)"],
        ["no-such-program"],
    ]
    start = time.monotonic()
    results = run_batch(sandbox, commands, timeout_s=1.5, output_limit_bytes=1000)
    assert time.monotonic() - start < 10
    ok, failed, slept, loud, missing = results
    assert ok.ok and ok.stdout == "a\n"
    assert failed.reason == "exit status 2"
    assert slept.timed_out and not slept.ok
    assert loud.ok and loud.output_truncated and len(loud.stdout) == 1000
    assert missing.exit_code == 127 and not missing.ok
    assert run_batch(sandbox, [], timeout_s=1) == []
