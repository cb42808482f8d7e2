"""A scripted model that knows repo-bugfix's reference fixes, for end-to-end tests and demos.

Use it as ``scripted/bugfix_oracle:reply`` with this folder on ``PYTHONPATH``. It finds
the task by its statement (default options: seed 0, 10 variants), replays the reference
fix through the agent's ``<replace>`` action, runs the visible tests, and finishes. So the
whole path (agent in one sandbox, work copied out, hidden tests in a fresh one) can be
checked without a real model.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from clade.orchestrator.evaluators.repo_bugfix import RepoBugfix


@cache
def _edits() -> dict[str, list[tuple[str, str, str]]]:
    bench = RepoBugfix()
    return {
        task.statement: [
            (path, old, new)
            for path, edits in bench.repo(task.id).fix.items()
            for old, new in edits
        ]
        for task in bench.tasks("dev") + bench.tasks("test")
    }


def reply(messages: list[dict[str, Any]]) -> str:
    # The real task is the message naming the work directory (worked examples come before it).
    at = max(i for i, m in enumerate(messages) if "\n\nWork directory:" in str(m.get("content")))
    task = str(messages[at].get("content", "")).rsplit("Task:\n", 1)[-1]
    statement = task.rsplit("\n\nWork directory:", 1)[0]
    edits = _edits().get(statement)
    if edits is None:
        return "<finish>this is not a repo-bugfix task</finish>"
    done = sum(m.get("role") == "assistant" for m in messages[at:])
    if done < len(edits):
        path, old, new = edits[done]
        return f'<replace path="{path}"><old>{old}</old><new>{new}</new></replace>'
    if done == len(edits):
        return "<bash>python3 -m unittest discover -s tests</bash>"
    return "<finish>fixed the bug; the visible tests pass</finish>"
