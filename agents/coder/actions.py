"""Parse one action out of a model's reply.

The seed agent speaks a tag format that small models can follow without function calling:

    <bash>pytest -q</bash>
    <write path="pkg/mod.py">...whole file...</write>
    <replace path="pkg/mod.py"><old>exact old text</old><new>new text</new></replace>
    <finish>what was done</finish>

A fenced ```bash block also counts as a bash action. Anything else is malformed, and the
agent answers with a corrective message instead of crashing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TAG = re.compile(r"<(bash|write|replace|finish)(\s[^>]*)?>(.*?)</\1>", re.DOTALL)
_FENCE = re.compile(r"```(?:bash|sh|shell)\s*\n(.*?)```", re.DOTALL)
_PATH = re.compile(r"""path\s*=\s*["']([^"']+)["']""")
_OLD_NEW = re.compile(r"<old>(.*?)</old>\s*<new>(.*?)</new>", re.DOTALL)

FORMAT_HELP = (
    "Reply with exactly one action: <bash>command</bash>, "
    '<write path="file">full content</write>, '
    '<replace path="file"><old>exact text</old><new>replacement</new></replace>, '
    "or <finish>summary</finish> when the task is done."
)


@dataclass(frozen=True)
class Action:
    kind: str  # bash | write | replace | finish
    body: str = ""
    path: str = ""
    old: str = ""
    new: str = ""


class MalformedAction(ValueError):
    """The reply holds no action the agent can run; the message says how to fix it."""


def parse_action(reply: str) -> Action:
    match = _TAG.search(reply)
    if match is None:
        fence = _FENCE.search(reply)
        if fence is not None:
            return Action("bash", body=fence.group(1).strip())
        raise MalformedAction("No action found. " + FORMAT_HELP)
    kind, attrs, body = match.group(1), match.group(2) or "", match.group(3)
    if kind == "bash":
        if not body.strip():
            raise MalformedAction("The <bash> action is empty. " + FORMAT_HELP)
        return Action("bash", body=body.strip())
    if kind == "finish":
        return Action("finish", body=body.strip())
    path_match = _PATH.search(attrs)
    if path_match is None:
        raise MalformedAction(
            f'<{kind}> needs a path attribute, like <{kind} path="file.py">. ' + FORMAT_HELP
        )
    path = path_match.group(1)
    if kind == "write":
        return Action("write", path=path, body=body.lstrip("\n"))
    old_new = _OLD_NEW.search(body)
    if old_new is None:
        raise MalformedAction("<replace> needs <old>...</old><new>...</new> inside. " + FORMAT_HELP)
    return Action("replace", path=path, old=old_new.group(1), new=old_new.group(2))
