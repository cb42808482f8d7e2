"""A scripted model that plays every role of a self-improvement run, for tests and demos.

Use it as ``scripted/scripted_agent:reply`` with this folder on ``PYTHONPATH``. It shows a
whole Darwin-Gödel step without any real model:

- diagnosis: proposes that the agent should always sort (one JSON object);
- self-modification: edits the agent's own system prompt file ``coder/prompts/system.md``,
  putting ``ALWAYS SORT`` in it;
- tasks (word sorting): an agent whose system prompt says ``ALWAYS SORT`` gets a shell
  command that sorts the words into ``answer.txt``; any other agent is told to give up.

So the seed solves nothing, and a child made by self-modification solves every task.
"""

from __future__ import annotations

import json
from typing import Any

MARK = "ALWAYS SORT."
EDIT = (
    '<replace path="coder/prompts/system.md"><old>You are a careful software engineer</old>'
    f"<new>{MARK} You are a careful software engineer</new></replace>"
)
SORT = (
    "<bash>python3 -c \"w=open('../task.md').read().split(': ',1)[1].split(chr(10))[0].split();"
    "open('answer.txt','w').write(' '.join(sorted(w)))\"</bash>"
)
PROPOSAL = {
    "what_failed": "the agent gave up on a sorting task",
    "improvement": "the agent should always sort",
    "implementation_plan": "add the words ALWAYS SORT to the system prompt, coder/prompts/system.md",
    "problem_statement": "Edit coder/prompts/system.md so that the system prompt starts with ALWAYS SORT.",
}


def reply(messages: list[dict[str, Any]]) -> str:
    first = str(messages[0].get("content", ""))
    last = str(messages[-1].get("content", ""))
    if first.startswith("You are improving a coding agent"):
        return "Here is my diagnosis:\n" + json.dumps(PROPOSAL)
    if last.startswith("Result:"):
        return "<finish>done</finish>"
    if "This repository is the source code of a coding agent" in last:
        return EDIT
    if MARK in first:
        return SORT
    return "<finish>I cannot do this</finish>"
