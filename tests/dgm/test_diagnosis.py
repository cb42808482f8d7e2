from __future__ import annotations

import json

import pytest

from clade.orchestrator.dgm.diagnosis import DiagnosisFailed, diagnose, parse_proposal

GOOD = {
    "what_failed": "the agent never ran the tests",
    "improvement": "verify before finishing",
    "implementation_plan": "run pytest before <finish>",
    "problem_statement": "In coder/loop.py, refuse to finish before a test command has run.",
}


def test_parse_finds_the_object_amid_prose():
    reply = "Sure! {not json} Here it is:\n```json\n" + json.dumps(GOOD) + "\n```"
    assert parse_proposal(reply).improvement == "verify before finishing"


def test_invalid_replies_are_retried_with_the_error_then_fail():
    replies = ["no idea", json.dumps({**GOOD, "problem_statement": ""}), json.dumps(GOOD)]
    seen = []

    def chat(messages):
        seen.append(messages)
        return replies.pop(0)

    proposal = diagnose(chat, [("coder/loop.py", "...")], "task", "traj", "failed")
    assert proposal.what_failed == GOOD["what_failed"]
    assert (
        "not a valid answer" in seen[1][-1]["content"]
        and "problem_statement" in seen[2][-1]["content"]
    )

    with pytest.raises(DiagnosisFailed) as err:
        diagnose(lambda m: "nothing", [], "t", "", "", tries=2)
    assert err.value.replies == ["nothing", "nothing"]
