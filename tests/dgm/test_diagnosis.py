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


def test_the_experience_mutation_is_offered_only_when_solved_trajectories_exist():
    from clade.orchestrator.dgm.diagnosis import proposal_format

    seen = []

    def chat(messages):
        seen.append(messages[0]["content"])
        return json.dumps({**GOOD, "mutation": "experience"})

    offered = diagnose(chat, [], "t", "", "", experience=True)
    assert offered.mutation == "experience" and '"experience"' in seen[-1]
    withheld = diagnose(chat, [], "t", "", "", experience=False)
    assert withheld.mutation == "edit" and "experience" not in seen[-1]
    assert parse_proposal(json.dumps(GOOD)).mutation == "edit"  # the default

    closed = proposal_format(experience=False)["json_schema"]["schema"]["properties"]
    assert closed["mutation"]["enum"] == ["edit"]
    open_ = proposal_format(experience=True, max_chars=1000)["json_schema"]["schema"]
    assert set(open_["properties"]["mutation"]["enum"]) == {"edit", "experience"}
    assert open_["properties"]["problem_statement"]["maxLength"] == 400
