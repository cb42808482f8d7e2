"""The seed coding agent, run in-process with a scripted model (no sandbox needed here)."""

from __future__ import annotations

import json
import time

import pytest

from clade.agents.coder.actions import MalformedAction, parse_action
from clade.agents.coder.loop import Limits, TrajectoryLog, solve
from clade.agents.coder.tools import apply_edit, run_bash


@pytest.mark.parametrize(
    ("reply", "kind", "field", "value"),
    [
        ("let me look\n<bash>ls -la</bash>", "bash", "body", "ls -la"),
        ("```bash\npytest -q\n```", "bash", "body", "pytest -q"),
        ('<write path="a/b.py">\nx = 1\n</write>', "write", "body", "x = 1\n"),
        ("<replace path='m.py'><old>a</old><new>b</new></replace>", "replace", "new", "b"),
        ("<finish>done</finish>", "finish", "body", "done"),
    ],
)
def test_parse_action(reply, kind, field, value):
    action = parse_action(reply)
    assert action.kind == kind and getattr(action, field) == value


@pytest.mark.parametrize(
    "reply",
    [
        "I think we should fix it.",
        "<bash>  </bash>",
        "<write>x</write>",
        '<replace path="m.py">x</replace>',
    ],
)
def test_malformed_replies_explain_the_format(reply):
    with pytest.raises(MalformedAction, match="exactly one action"):
        parse_action(reply)


def test_edits_stay_inside_the_work_directory(tmp_path):
    (tmp_path / "m.py").write_text("a = 1\na = 1\n")
    with pytest.raises(ValueError, match="outside"):
        apply_edit(parse_action('<write path="../evil.py">x</write>'), tmp_path)
    assert "2 times" in apply_edit(
        parse_action('<replace path="m.py"><old>a = 1</old><new>b</new></replace>'), tmp_path
    )
    assert "does not exist" in apply_edit(
        parse_action('<replace path="n.py"><old>a</old><new>b</new></replace>'), tmp_path
    )


def test_bash_timeout_kills_the_whole_process_group(tmp_path):
    marker = tmp_path / "child-survived"
    start = time.monotonic()
    out = run_bash(f"(sleep 3; touch {marker}) & sleep 30", tmp_path, timeout=1)
    assert "timed out" in out and time.monotonic() - start < 5
    time.sleep(3)
    assert not marker.exists()


def scripted(replies):
    seen = []

    def complete(messages):
        seen.append(messages[-1]["content"])
        return replies.pop(0), 10

    return complete, seen


def test_solve_edits_runs_and_finishes_with_a_trajectory(tmp_path):
    complete, seen = scripted(
        [
            '<write path="hello.py">print("hi")</write>',
            "not an action",
            "<bash>python hello.py</bash>",
            "<finish>prints hi</finish>",
        ]
    )
    traj = tmp_path / "traj.jsonl"
    trajectory = TrajectoryLog(traj)
    outcome = solve("write hello.py", tmp_path, complete, Limits(), trajectory)
    trajectory.close()
    assert (outcome.status, outcome.steps, outcome.tokens, outcome.summary) == (
        "finished",
        4,
        40,
        "prints hi",
    )
    assert "exactly one action" in seen[2]  # the corrective message after the malformed reply
    assert "hi" in seen[3] and "[exit code 0]" in seen[3]
    events = [json.loads(line) for line in traj.read_text().splitlines()]
    assert [e["event"] for e in events] == ["start", "step", "step", "step", "step", "end"]


def test_solve_stops_at_limits_and_on_model_errors(tmp_path):
    complete, _ = scripted(["<bash>true</bash>"] * 5)
    outcome = solve("loop", tmp_path, complete, Limits(max_steps=3), TrajectoryLog(tmp_path / "t1"))
    assert (outcome.status, outcome.steps) == ("step_limit", 3)
    complete, _ = scripted(["<bash>true</bash>"] * 5)
    outcome = solve(
        "loop", tmp_path, complete, Limits(max_tokens=15), TrajectoryLog(tmp_path / "t2")
    )
    assert (outcome.status, outcome.steps) == ("token_limit", 2)

    def broken(messages):
        raise ConnectionError("socket gone")

    outcome = solve("x", tmp_path, broken, Limits(), TrajectoryLog(tmp_path / "t3"))
    assert outcome.status == "model_error" and "socket gone" in outcome.summary
