"""What the model sees: the system prompt, worked examples and the conversation, in budget.

The system prompt and the format help are files of this agent, read at start
(``prompts/system.md``, ``prompts/format_tags.md``, ``prompts/format_json.md``), so a
self-improvement step can rewrite them like any other part of it.

Worked examples come from two files beside this one, one JSON object per line::

    {"task": "...", "turns": [{"assistant": "<the reply>", "observation": "<its result>"}, ...]}

``examples.jsonl`` holds the few generic demonstrations the seed ships with (compute with a
script, pass a task's values as arguments); ``experience.jsonl`` is what a run adds, the
agent's own solved tasks (the experience mutation). They are put into the chat as earlier
conversations before the real task: the examples most like the task (word overlap), as
many as fit the examples budget, the most alike last. Each reply is re-written in the
action format the model is asked for now, so examples recorded with tags teach a JSON model
too. Small models copy a demonstrated tool pattern far more reliably than they follow a
description of it, and copy most from what they read last.

The conversation is kept under a character budget: the oldest steps are dropped first.
A small local model's context (4096 tokens per llama.cpp slot) holds about 9,000 characters;
the json budget stays well under it, since on a CPU every prompt token costs time.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path

from .actions import FORMAT_HELP, JSON_FORMAT_HELP, MalformedAction, parse_action, render_action

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE / "examples.jsonl"
EXPERIENCE = HERE / "experience.jsonl"
Message = dict[str, str]


@dataclass(frozen=True)
class ContextBudget:
    """Characters of context: all messages, the worked examples, one observation."""

    context_chars: int
    examples_chars: int
    observation_chars: int


#: json is the style of small local models (a 4096-token context); tags of API models.
BUDGETS = {"json": ContextBudget(6_000, 2_400, 800), "tags": ContextBudget(60_000, 16_000, 8_000)}


def _prompt_file(name: str, fallback: str) -> str:
    try:
        return (HERE / "prompts" / f"{name}.md").read_text(encoding="utf-8").strip() or fallback
    except OSError:
        return fallback


def system_prompt(style: str) -> str:
    """The system prompt file, then the help of the action format ``style``."""
    role = _prompt_file("system", "You are a careful software engineer working in a repository.")
    return role + "\n" + (JSON_FORMAT_HELP if style == "json" else FORMAT_HELP)


def task_message(task: str, workdir: Path | str | None = None) -> str:
    text = f"Task:\n{task.strip()}"
    return text if workdir is None else f"{text}\n\nWork directory: {workdir}"


def result_message(observation: str) -> str:
    return f"Result:\n{observation}"


def clip(text: str, limit: int) -> str:
    """``text`` cut in the middle to ``limit`` characters (the head and the tail stay)."""
    if len(text) <= limit:
        return text
    half = max(1, (limit - 40) // 2)
    return f"{text[:half]}\n[... {len(text) - 2 * half} characters cut ...]\n{text[-half:]}"


def append(messages: list[Message], role: str, content: str) -> None:
    """Add a message; two in a row from one role become one (chat templates alternate)."""
    if messages and messages[-1]["role"] == role:
        messages[-1] = {"role": role, "content": messages[-1]["content"] + "\n\n" + content}
    else:
        messages.append({"role": role, "content": content})


def _valid(record: object) -> bool:
    if not isinstance(record, dict) or not isinstance(record.get("task"), str):
        return False
    turns = record.get("turns")
    return (
        isinstance(turns, list)
        and bool(turns)
        and all(
            isinstance(t, dict)
            and isinstance(t.get("assistant"), str)
            and isinstance(t.get("observation", ""), str)
            for t in turns
        )
    )


def example_messages(record: dict, style: str, observation_chars: int) -> list[Message]:
    """One worked example as chat messages: the task, then each reply and its result."""
    messages: list[Message] = []
    append(messages, "user", task_message(record["task"]))
    for turn in record["turns"]:
        reply, kind = turn["assistant"], None
        with contextlib.suppress(MalformedAction):  # else shown as it was
            action = parse_action(reply, style)
            reply, kind = render_action(action, style), action.kind
        append(messages, "assistant", reply)
        observation = turn.get("observation", "")
        if observation and kind != "finish":  # a finish has no result
            append(messages, "user", result_message(clip(observation, observation_chars)))
    return messages


def _words(text: str) -> set[str]:
    return {
        w for w in "".join(c if c.isalnum() else " " for c in text.lower()).split() if len(w) > 1
    }


def similarity(a: str, b: str) -> float:
    """Word overlap of two task statements (Jaccard), 0..1."""
    wa, wb = _words(a), _words(b)
    return len(wa & wb) / len(wa | wb) if wa and wb else 0.0


def read_experience(*paths: Path) -> tuple[list[dict], int]:
    """The valid records of example files (missing ones are empty), and how many lines
    were invalid."""
    lines: list[str] = []
    for path in paths:
        try:
            lines += path.read_text(encoding="utf-8").splitlines()
        except OSError:
            continue
    records, invalid = [], 0
    for line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if _valid(record):
            records.append(record)
        else:
            invalid += 1
    return records, invalid


def load_examples(
    task: str, style: str, budget: ContextBudget, paths: tuple[Path, ...] = (EXAMPLES, EXPERIENCE)
) -> tuple[list[Message], int, int]:
    """Worked examples for ``task`` within ``budget.examples_chars``: (messages, used,
    invalid lines). The examples most like the task are chosen, and the most alike comes
    last, next to the task: a small model copies most from what it read last."""
    records, invalid = read_experience(*paths)
    ranked = sorted(
        enumerate(records), key=lambda item: (-similarity(item[1]["task"], task), item[0])
    )
    chosen: list[tuple[float, int, list[Message]]] = []
    size = 0
    for index, record in ranked:
        example = example_messages(record, style, budget.observation_chars)
        cost = sum(len(m["content"]) for m in example)
        if size + cost <= budget.examples_chars:
            chosen.append((similarity(record["task"], task), index, example))
            size += cost
    messages: list[Message] = []
    for _, _, example in sorted(chosen, key=lambda c: (c[0], -c[1])):
        for message in example:
            append(messages, message["role"], message["content"])
    return messages, len(chosen), invalid


def fit(messages: list[Message], head: int, budget_chars: int) -> list[Message]:
    """``messages`` with the oldest steps after the first ``head`` dropped until the whole
    (with a note saying so) fits ``budget_chars``; the last step always stays."""
    if sum(len(m["content"]) for m in messages) <= budget_chars:
        return list(messages)
    kept, dropped, note_room = list(messages), 0, 60
    while len(kept) > head + 2 and sum(len(m["content"]) for m in kept) + note_room > budget_chars:
        del kept[head : head + 2]  # one step: the model's reply and its result
        dropped += 1
    if dropped:
        task = kept[head - 1]
        note = f"[{dropped} earlier step(s) left out to fit the context]"
        kept[head - 1] = {"role": task["role"], "content": task["content"] + "\n\n" + note}
    return kept
