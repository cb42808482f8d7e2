"""Parse one action out of a model's reply, in either of the agent's two action formats.

``tags``, for API models that follow instructions (no function calling needed):

    <bash>pytest -q</bash>
    <write path="pkg/mod.py">...whole file...</write>
    <replace path="pkg/mod.py"><old>exact old text</old><new>new text</new></replace>
    <finish>what was done</finish>

A fenced ```bash block also counts as a bash action.

``json``, for local models that decode under a grammar: the agent sends
:func:`response_format` with each request, so every reply *is* one of

    {"action": "bash", "command": "pytest -q"}
    {"action": "write", "path": "pkg/mod.py", "content": "...whole file..."}
    {"action": "replace", "path": "pkg/mod.py", "old": "exact old text", "new": "new text"}
    {"action": "finish", "summary": "what was done"}

Anything else is malformed, and the agent answers with a corrective message instead of
crashing. The help texts for both formats are files of the agent (``prompts/format_*.md``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_TAG = re.compile(r"<(bash|write|replace|finish)(\s[^>]*)?>(.*?)</\1>", re.DOTALL)
_FENCE = re.compile(r"```(?:bash|sh|shell)\s*\n(.*?)```", re.DOTALL)
_PATH = re.compile(r"""path\s*=\s*["']([^"']+)["']""")
_OLD_NEW = re.compile(r"<old>(.*?)</old>\s*<new>(.*?)</new>", re.DOTALL)

KINDS = ("bash", "write", "replace", "finish")
#: The JSON fields of each action kind, in the order the grammar makes the model write them.
FIELDS = {
    "bash": ("command",),
    "write": ("path", "content"),
    "replace": ("path", "old", "new"),
    "finish": ("summary",),
}


def _help(name: str, fallback: str) -> str:
    """A format help file of this agent (``prompts/<name>.md``); the fallback if it is gone."""
    path = Path(__file__).with_name("prompts") / f"{name}.md"
    try:
        return path.read_text(encoding="utf-8").strip() or fallback
    except OSError:
        return fallback


FORMAT_HELP = _help("format_tags", "Reply with exactly one action, e.g. <bash>ls</bash>.")
JSON_FORMAT_HELP = _help(
    "format_json",
    'Reply with exactly one action as JSON, e.g. {"action": "bash", "command": "ls"}.',
)


@dataclass(frozen=True)
class Action:
    kind: str  # bash | write | replace | finish
    body: str = ""  # the command, the written content or the summary
    path: str = ""
    old: str = ""
    new: str = ""


class MalformedAction(ValueError):
    """The reply holds no action the agent can run; the message says how to fix it."""


def action_schema(max_chars: int = 1200) -> dict[str, Any]:
    """The JSON schema of one action; strings are capped so a reply fits its token budget
    (a reply cut off by max_tokens is not valid JSON)."""
    caps = {"command": max_chars, "content": max_chars, "old": max_chars // 2,
            "new": max_chars // 2, "path": 200, "summary": 300}  # fmt: skip
    variants = []
    for kind in KINDS:
        properties: dict[str, Any] = {"action": {"const": kind}}
        for field in FIELDS[kind]:
            properties[field] = {"type": "string", "maxLength": caps[field]}
        variants.append(
            {
                "type": "object",
                "properties": properties,
                "required": ["action", *FIELDS[kind]],
                "additionalProperties": False,
            }
        )
    return {"anyOf": variants}


def response_format(max_chars: int = 1200) -> dict[str, Any]:
    """The OpenAI-style ``response_format`` asking for one action as JSON."""
    return {
        "type": "json_schema",
        "json_schema": {"name": "action", "strict": True, "schema": action_schema(max_chars)},
    }


def parse_action(reply: str, style: str = "tags") -> Action:
    """The action in ``reply``; ``style`` is the format the model was asked for (tags or
    json). Either format is understood in either style; the error message names the one
    asked for."""
    if style == "json":
        try:
            return parse_json_action(reply)
        except MalformedAction as json_error:
            try:
                return parse_tag_action(reply, JSON_FORMAT_HELP)
            except MalformedAction:
                raise json_error from None
    try:
        return parse_tag_action(reply, FORMAT_HELP)
    except MalformedAction as tag_error:
        if "{" not in reply:
            raise
        try:
            return parse_json_action(reply)
        except MalformedAction:
            raise tag_error from None


def parse_tag_action(reply: str, help_text: str = FORMAT_HELP) -> Action:
    match = _TAG.search(reply)
    if match is None:
        fence = _FENCE.search(reply)
        if fence is not None:
            return Action("bash", body=fence.group(1).strip())
        raise MalformedAction("No action found. " + help_text)
    kind, attrs, body = match.group(1), match.group(2) or "", match.group(3)
    if kind == "bash":
        if not body.strip():
            raise MalformedAction("The <bash> action is empty. " + help_text)
        return Action("bash", body=body.strip())
    if kind == "finish":
        return Action("finish", body=body.strip())
    path_match = _PATH.search(attrs)
    if path_match is None:
        raise MalformedAction(
            f'<{kind}> needs a path attribute, like <{kind} path="file.py">. ' + help_text
        )
    path = path_match.group(1)
    if kind == "write":
        return Action("write", path=path, body=body.lstrip("\n"))
    old_new = _OLD_NEW.search(body)
    if old_new is None:
        raise MalformedAction("<replace> needs <old>...</old><new>...</new> inside. " + help_text)
    return Action("replace", path=path, old=old_new.group(1), new=old_new.group(2))


#: What a reply cut off by max_tokens may lack to be whole again (tried in order).
_ENDINGS = ('"}', "}", '""}', '": ""}', '\\"}')


def _first_object(reply: str) -> dict[str, Any]:
    decoder = json.JSONDecoder()
    for start in (i for i, ch in enumerate(reply) if ch == "{"):
        try:
            value, _ = decoder.raw_decode(reply, start)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    text = reply.strip()
    if text.startswith("{"):
        # Cut off by max_tokens in the middle of a string: close it and keep what was said.
        for ending in _ENDINGS:
            try:
                value = json.loads(text + ending)
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
    raise MalformedAction("No JSON action found. " + JSON_FORMAT_HELP)


def parse_json_action(reply: str) -> Action:
    """The first JSON object in ``reply``, read as an action (see the module docstring)."""
    value = _first_object(reply)
    kind = value.get("action")
    if kind not in FIELDS:
        raise MalformedAction(
            f"Unknown action {kind!r}: use one of {', '.join(KINDS)}. " + JSON_FORMAT_HELP
        )
    fields = {}
    for name in FIELDS[kind]:
        text = value.get(name)
        if not isinstance(text, str):
            raise MalformedAction(f'The {kind} action needs a string "{name}". ' + JSON_FORMAT_HELP)
        fields[name] = text
    if kind == "bash":
        if not fields["command"].strip():
            raise MalformedAction("The bash command is empty. " + JSON_FORMAT_HELP)
        return Action("bash", body=fields["command"].strip())
    if kind == "finish":
        return Action("finish", body=fields["summary"].strip())
    if not fields["path"].strip():
        raise MalformedAction(f"The {kind} action needs a path. " + JSON_FORMAT_HELP)
    if kind == "write":
        return Action("write", path=fields["path"].strip(), body=fields["content"])
    return Action("replace", path=fields["path"].strip(), old=fields["old"], new=fields["new"])


def render_action(action: Action, style: str) -> str:
    """``action`` written in ``style`` (tags or json): worked examples recorded in one
    format are shown to the model in the format it is asked for now."""
    if style == "json":
        values = {
            "bash": (action.body,),
            "write": (action.path, action.body),
            "replace": (action.path, action.old, action.new),
            "finish": (action.body,),
        }[action.kind]
        return json.dumps(
            {"action": action.kind, **dict(zip(FIELDS[action.kind], values, strict=True))}
        )
    if action.kind == "write":
        return f'<write path="{action.path}">{action.body}</write>'
    if action.kind == "replace":
        return (
            f'<replace path="{action.path}"><old>{action.old}</old>'
            f"<new>{action.new}</new></replace>"
        )
    return f"<{action.kind}>{action.body}</{action.kind}>"
