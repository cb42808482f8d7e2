"""Scripted models for tests and demos: ``scripted/<name>`` answers from a script.

``<name>`` is, in this order: a name given to :func:`register_script` in this process; a
YAML/JSON file (a list of replies, or a mapping with ``rules``, ``replies``, ``default``);
or an import path ``package.module:function`` of a callable ``fn(messages) -> str``.
Replies are returned in order; rules (a regex on the last user message) win over them.

A scripted model counts a word as a token, honours ``max_tokens`` and ``stop``, and keeps
the sampling parameters of its last calls (:func:`script_calls`), so a test can check what
reached it. ``register_script(..., grammar=True)`` makes it claim grammar-constrained
decoding (``GET /v1/models``), for testing a client's JSON-schema path without llama.cpp;
it does not enforce the schema.
"""

from __future__ import annotations

import importlib
import re
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from clade.orchestrator.models.errors import ScriptError

ReplyFn = Callable[[list[dict[str, Any]]], str]


class Rule(BaseModel):
    """Reply ``reply`` when the last user message matches ``when``."""

    model_config = ConfigDict(extra="forbid")

    when: str = Field(description="Regular expression searched in the last user message.")
    reply: str = Field(description="The reply.")


class Script(BaseModel):
    """A scripted model's replies."""

    model_config = ConfigDict(extra="forbid")

    rules: list[Rule] = Field(default_factory=list, description="Checked first, in order.")
    replies: list[str] = Field(default_factory=list, description="Returned one per call, in order.")
    default: str | None = Field(
        default=None, description="Reply once rules miss and replies run out."
    )


#: Sampling parameters kept per scripted model (the most recent calls).
KEPT_CALLS = 64


class _Player:
    """Plays one script; keeps its position under a lock."""

    def __init__(self, script: Script | ReplyFn, grammar: bool = False) -> None:
        self._script = script
        self._lock = threading.Lock()
        self._next = 0
        self.grammar = grammar
        self.calls: deque[Any] = deque(maxlen=KEPT_CALLS)

    def reply(self, name: str, messages: list[dict[str, Any]]) -> str:
        if callable(self._script):
            return str(self._script(messages))
        script = self._script
        last_user = next(
            (str(m.get("content", "")) for m in reversed(messages) if m.get("role") == "user"), ""
        )
        for rule in script.rules:
            if re.search(rule.when, last_user):
                return rule.reply
        with self._lock:
            if self._next < len(script.replies):
                self._next += 1
                return script.replies[self._next - 1]
        if script.default is not None:
            return script.default
        raise ScriptError(
            f"scripted model {name!r} has no reply left ({len(script.replies)} used)",
            hint="add replies, rules or a default to the script",
        )


_lock = threading.Lock()
_players: dict[str, _Player] = {}


def register_script(
    name: str, script: Script | Sequence[str] | ReplyFn, *, grammar: bool = False
) -> str:
    """Make ``scripted/<name>`` answer from ``script``; returns the model name. ``grammar``:
    say in ``GET /v1/models`` that it decodes under a JSON-schema grammar."""
    if isinstance(script, Script) or callable(script):
        player = _Player(script, grammar)
    else:
        player = _Player(Script(replies=list(script)), grammar)
    with _lock:
        _players[name] = player
    return f"scripted/{name}"


def _load(name: str) -> _Player:
    path = Path(name)
    if path.suffix in {".yaml", ".yml", ".json"}:
        if not path.is_file():
            raise ScriptError(
                f"script file {name} not found", hint="check the path after scripted/"
            )
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            script = Script(replies=data) if isinstance(data, list) else Script.model_validate(data)
        except (yaml.YAMLError, ValidationError) as exc:
            raise ScriptError(
                f"script file {name} is invalid: {exc}".splitlines()[0],
                hint="see orchestrator/models/scripted.py",
            ) from exc
        return _Player(script)
    if ":" in name:
        module, _, attr = name.partition(":")
        try:
            fn = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise ScriptError(
                f"cannot import scripted model {name}: {exc}", hint="use package.module:function"
            ) from exc
        return _Player(fn)
    raise ScriptError(
        f"no scripted model {name!r}",
        hint="register it with register_script(), or name a .yaml/.json file or module:function",
    )


def _player(name: str) -> _Player:
    with _lock:
        player = _players.get(name)
        if player is None:
            player = _players[name] = _load(name)
    return player


def scripted_reply(name: str, messages: Sequence[Mapping[str, Any]], params: Any = None) -> str:
    """The next reply of scripted model ``name`` to ``messages`` (``params``, the call's
    sampling parameters, are kept for :func:`script_calls`)."""
    player = _player(name)
    if params is not None:
        player.calls.append(params)
    return player.reply(name, [dict(m) for m in messages])


def script_calls(name: str) -> list[Any]:
    """Sampling parameters (:class:`SamplingParams`) of the last calls to ``scripted/<name>``."""
    return list(_player(name).calls)


def script_grammar(name: str) -> bool:
    """Whether ``scripted/<name>`` claims grammar-constrained decoding."""
    try:
        return _player(name).grammar
    except ScriptError:
        return False


def prompt_tokens(messages: Sequence[Mapping[str, Any]]) -> int:
    """A scripted model's prompt tokens: the words of the messages' contents."""
    return sum(len(str(m.get("content", "")).split()) for m in messages)
