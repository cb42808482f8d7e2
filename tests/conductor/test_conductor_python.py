"""Expert Python's code runs in a real Docker sandbox: no network, no keys, 3 s limit."""

from __future__ import annotations

import uuid

import pytest

from clade.orchestrator.conductor import SandboxPython, solve
from clade.orchestrator.conductor.python_expert import report

from .conftest import Scripted, expert_turn, final

F = "```"
pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def python():
    run_id = f"test-conductor-{uuid.uuid4().hex[:8]}"
    with SandboxPython(run_id=run_id) as expert:
        yield expert
    import docker

    client = docker.from_env()
    try:
        left = client.containers.list(all=True, filters={"label": f"clade.run={run_id}"})
        assert not left, f"containers left behind: {[c.name for c in left]}"
    finally:
        client.close()


def test_the_last_block_before_the_request_runs_and_its_output_returns(make_layer, python):
    reply = (
        f"First try:\n{F}python\nprint('draft')\n{F}\nBetter:\n{F}python\nprint(6 * 4)\n{F}\n"
        f"Please run this code!\n{F}python\nprint('after the request')\n{F}"
    )
    conductor = Scripted([expert_turn(("Python", "Compute 6 * 4.")), final("24")])
    result = solve("q", make_layer(conductor, Scripted([reply])), python=python)
    runs = [s for s in result.steps if s["kind"] == "python"]
    assert [(r["code"], r["stdout"]) for r in runs] == [("print(6 * 4)", "24\n")]
    back = conductor.seen[1][-1]["content"]
    assert "Here is the output of the code when executed:\n\n24" in back
    assert "draft" not in back.split("Please run this code!")[1]


def test_an_error_is_reported_with_its_stderr(python):
    run = python.run("print('before')\nraise ValueError('bad value 17')")
    assert run.exit_code == 1 and "ValueError: bad value 17" in run.stderr
    text = report(run)
    assert "exit status 1" in text and "ValueError: bad value 17" in text and "before" in text


def test_an_infinite_loop_times_out_at_three_seconds(python):
    run = python.run("print('start', flush=True)\nwhile True:\n    pass")
    assert run.timed_out and python.timeout_s == 3.0
    text = report(run)
    assert "stopped after 3 seconds" in text and "start" in text
    # The sandbox stays usable after the kill.
    assert python.run("print('alive')").stdout == "alive\n"


def test_code_that_prints_nothing_gets_a_hint(python):
    assert "printed nothing" in report(python.run("x = 6 * 4"))


def test_the_sandbox_has_no_network_and_no_keys(python, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
    code = (
        "import os, socket\n"
        "print(sorted(k for k in os.environ if 'KEY' in k or 'TOKEN' in k))\n"
        "try:\n"
        "    socket.create_connection(('1.1.1.1', 53), timeout=2)\n"
        "    print('connected')\n"
        "except OSError as exc:\n"
        "    print('no network', type(exc).__name__)\n"
    )
    run = python.run(code)
    assert run.stdout.splitlines()[0] == "[]"
    assert run.stdout.splitlines()[1].startswith("no network")
    import docker

    client = docker.from_env()
    try:
        attrs = client.containers.get(python.container_id).attrs
    finally:
        client.close()
    assert attrs["HostConfig"]["NetworkMode"] == "none"
    assert not any("KEY" in e for e in attrs["Config"]["Env"])
