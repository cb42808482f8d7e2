"""Structured actions and what the model sees: JSON actions under a grammar, worked examples,
the prompt files, the context budget."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from clade.agents.coder import context
from clade.agents.coder.actions import (
    Action,
    MalformedAction,
    action_schema,
    parse_action,
    parse_json_action,
    render_action,
)
from clade.agents.coder.loop import Limits, TrajectoryLog, solve

AGENTS = Path(__file__).resolve().parents[2] / "agents"


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ('{"action": "bash", "command": " ls -la "}', Action("bash", body="ls -la")),
        (
            '{\n  "action": "write", "path": "a/b.py", "content": "x = 1\\n"}',
            Action("write", path="a/b.py", body="x = 1\n"),
        ),
        (
            '{"action": "replace", "path": "m.py", "old": "a", "new": "b"}',
            Action("replace", path="m.py", old="a", new="b"),
        ),
        ('{"action": "finish", "summary": "done"}', Action("finish", body="done")),
        ('Sure: {"action": "finish", "summary": "ok"} bye', Action("finish", body="ok")),
        # Cut off by max_tokens inside a string: closed and kept.
        (
            '{"action": "write", "path": "s.py", "content": "print(1)',
            Action("write", path="s.py", body="print(1)"),
        ),
    ],
)
def test_json_actions_parse(reply, expected):
    assert parse_json_action(reply) == expected
    assert parse_action(reply, "json") == expected


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ("no json here", "No JSON action found"),
        ('{"action": "delete", "path": "x"}', "Unknown action 'delete'"),
        ('{"action": "write", "content": "x"}', 'needs a string "path"'),
        ('{"action": "bash", "command": "   "}', "bash command is empty"),
        ('{"action": "replace", "path": " ", "old": "a", "new": "b"}', "needs a path"),
        ('{"action": "bash", "command": 3}', 'needs a string "command"'),
    ],
)
def test_malformed_json_actions_say_how_to_fix_them(reply, message):
    with pytest.raises(MalformedAction, match=message) as err:
        parse_json_action(reply)
    assert '{"action": "bash"' in str(err.value)  # the JSON format help follows


def test_each_style_reads_the_other_format_but_explains_its_own():
    assert parse_action("<bash>ls</bash>", "json") == Action("bash", body="ls")
    assert parse_action('{"action": "bash", "command": "ls"}', "tags") == Action("bash", body="ls")
    with pytest.raises(MalformedAction, match="as JSON"):
        parse_action("nothing", "json")
    with pytest.raises(MalformedAction, match="<bash>command</bash>"):
        parse_action('{"a": 1}', "tags")


def test_actions_render_in_either_format_and_parse_back():
    for action in (
        Action("bash", body='python3 -c "print(1)"'),
        Action("write", path="a.py", body='x = "y"\n'),
        Action("replace", path="a.py", old="x", new="z"),
        Action("finish", body="done"),
    ):
        for style in ("json", "tags"):
            assert parse_action(render_action(action, style), style) == action


def test_the_schema_allows_exactly_the_four_actions_with_capped_strings():
    variants = action_schema(300)["anyOf"]
    kinds = {v["properties"]["action"]["const"]: v for v in variants}
    assert set(kinds) == {"bash", "write", "replace", "finish"}
    assert kinds["replace"]["required"] == ["action", "path", "old", "new"]
    assert all(v["additionalProperties"] is False for v in variants)
    assert kinds["bash"]["properties"]["command"]["maxLength"] == 300
    assert kinds["replace"]["properties"]["old"]["maxLength"] == 150


def _example(task: str, *replies: str) -> str:
    turns = [{"assistant": r, "observation": f"result of {i}"} for i, r in enumerate(replies)]
    return json.dumps({"task": task, "turns": turns})


def test_worked_examples_fit_the_budget_most_alike_last_in_the_asked_format(tmp_path):
    path = tmp_path / "experience.jsonl"
    lines = [
        _example("Sort these words: b a", "<bash>echo a b > answer.txt</bash>"),
        "not json",
        json.dumps({"task": "no turns", "turns": []}),
        _example("Compute 2 + 3 and write it", '{"action": "bash", "command": "echo 5"}'),
        _example("x" * 5000, "<finish>too long for the budget</finish>"),
    ]
    path.write_text("\n".join(lines) + "\n")
    budget = context.ContextBudget(9000, 600, 100)
    messages, used, invalid = context.load_examples(
        "Sort these words: d c", "json", budget, (path,)
    )
    assert (used, invalid) == (2, 2)
    # One role per turn: an example's last result and the next task share a message.
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant", "user"]
    assert messages[0]["content"].startswith("Task:\nCompute")  # less alike first
    assert "Result:\nresult of 0\n\nTask:\nSort these words: b a" in messages[2]["content"]
    assert json.loads(messages[3]["content"]) == {"action": "bash", "command": "echo a b > answer.txt"}  # fmt: skip


def test_solve_puts_examples_before_the_task_and_keeps_the_context_in_budget(tmp_path):
    path = tmp_path / "examples.jsonl"
    path.write_text(_example("Write hi", '{"action": "finish", "summary": "wrote hi"}') + "\n")
    seen: list[list[dict]] = []
    replies = ['{"action": "bash", "command": "printf \'%0500d\' 0"}'] * 6 + [
        '{"action": "finish", "summary": "ok"}'
    ]

    def complete(messages):
        seen.append([dict(m) for m in messages])
        return replies.pop(0), 1

    trajectory = TrajectoryLog(tmp_path / "t.jsonl")
    budget = context.ContextBudget(2500, 1000, 400)
    outcome = solve(
        "print zeros", tmp_path, complete, Limits(), trajectory, "json", budget, (path,)
    )
    trajectory.close()
    assert outcome.status == "finished" and outcome.steps == 7
    first = seen[0]
    assert first[0]["role"] == "system" and "as JSON" in first[0]["content"]
    assert first[1]["content"].startswith("Task:\nWrite hi")  # the worked example
    assert first[3]["content"].startswith("Task:\nprint zeros")  # then the real task
    last = seen[-1]
    assert sum(len(m["content"]) for m in last) <= 2500
    assert last[3]["content"].startswith("Task:\nprint zeros") and "left out" in last[3]["content"]
    assert "[... " in last[-1]["content"]  # observations are clipped to 400 characters
    start = json.loads((tmp_path / "t.jsonl").read_text().splitlines()[0])
    assert (start["style"], start["examples"]) == ("json", 1)


def test_the_system_prompt_and_format_help_are_files_a_child_can_rewrite(tmp_path):
    shutil.copytree(AGENTS / "coder", tmp_path / "coder", ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    (tmp_path / "coder" / "prompts" / "system.md").write_text("You are a poet.\n")
    (tmp_path / "coder" / "prompts" / "format_json.md").write_text("Answer in JSON, please.\n")
    code = (
        "import coder.context as c; print(c.system_prompt('json')); print(c.system_prompt('tags'))"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, '.'); {code}"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert out.startswith("You are a poet.\nAnswer in JSON, please.\n")
    assert "<bash>command</bash>" in out  # the tags help file is untouched
    (tmp_path / "coder" / "prompts" / "format_json.md").unlink()  # a child deleted it
    out = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, '.'); {code}"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "Reply with exactly one action as JSON" in out  # a fallback, not a crash


def test_the_seed_ships_valid_generic_examples():
    records, invalid = context.read_experience(context.EXAMPLES)
    assert invalid == 0 and len(records) >= 3
    for record in records:
        for turn in record["turns"]:
            parse_action(turn["assistant"], "json")  # every demonstrated reply is an action
    assert not context.EXPERIENCE.exists()  # the run's own experience starts empty


def test_a_finish_before_any_action_is_refused_once(tmp_path):
    replies = ['{"action": "finish", "summary": "done"}'] * 2
    seen = []

    def complete(messages):
        seen.append(messages[-1]["content"])
        return replies.pop(0), 1

    trajectory = TrajectoryLog(tmp_path / "t.jsonl")
    outcome = solve("do it", tmp_path, complete, Limits(), trajectory, "json", examples=())
    trajectory.close()
    assert (outcome.status, outcome.steps) == ("finished", 2)
    assert seen[1].startswith("Nothing has been done yet")
    steps = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()][1:3]
    assert [s["action"] for s in steps] == [None, "finish"]  # the refused one is no example
