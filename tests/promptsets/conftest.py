"""Scripted models of a prompt-set run on word-sorting.

The conductor answers from its meta prompt: with ``ALWAYS SORT`` it sorts the words; with a
``KNOWN ANSWERS:`` table it answers the questions listed there; otherwise it sorts lists of
an even number of words and reverses the others (so the seed set solves about half). The
mutate role proposes, then rewrites the template it is shown in one of several ways.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest

Q = '"""'
PREFIX = "Sort these words alphabetically, separated by single spaces: "
PROPOSAL = {
    "what_failed": "the words were not sorted",
    "improvement": "sort the words before answering",
    "implementation_plan": "tell the Meta-Expert to sort",
    "problem_statement": "Add an instruction to sort the words alphabetically.",
}


def _words(question: str) -> list[str]:
    line = next(x for x in question.splitlines() if x.startswith(PREFIX))
    return line[len(PREFIX) :].split()


def final(answer: str) -> str:
    return f"Done.\n>> FINAL ANSWER:\n{Q}\n{answer}\n{Q}"


def conductor(messages: list[dict[str, Any]]) -> str:
    system, question = str(messages[0]["content"]), str(messages[1]["content"])
    words = _words(question)
    if "ALWAYS SORT" in system:
        return final(" ".join(sorted(words)))
    known = dict(re.findall(r"^KNOWN: (.+) => (.+)$", system, re.MULTILINE))
    if " ".join(words) in known:
        return final(known[" ".join(words)])
    return final(" ".join(sorted(words) if len(words) % 2 == 0 else sorted(words)[::-1]))


def _shown_template(prompt: str) -> str:
    return prompt.split("----------\n", 2)[1].rsplit("\n----------", 1)[0]


def mutate(how: str) -> Callable[[list[dict[str, Any]]], str]:
    """A mutate role whose rewrite is ``how``: good (ALWAYS SORT), memorise (copies the
    failures it was shown), neutral (a harmless sentence), broken (does not render),
    nonsense (no JSON at all, also for the proposal)."""

    def reply(messages: list[dict[str, Any]]) -> str:
        prompt = str(messages[0]["content"])
        if how == "nonsense":
            return "I think the prompt is fine."
        if '"template"' not in prompt:  # the proposal
            return json.dumps(PROPOSAL)
        old = _shown_template(prompt)
        if how == "good":
            new = "ALWAYS SORT the words alphabetically.\n" + old
        elif how == "memorise":
            lines = [
                f"KNOWN: {' '.join(_words(q))} => {' '.join(sorted(_words(q)))}"
                for q in re.findall(r"^Question: (.+)$", prompt, re.MULTILINE)
            ]
            new = old + "\n" + "\n".join(lines) + "\n"
        elif how == "neutral":
            new = old + "\nBe careful.\n"
        else:  # broken: a variable the meta prompt never gets
            new = "Solve it in {{ minutes }} minutes."
        return json.dumps({"template": new})

    return reply


@pytest.fixture
def models() -> Callable[[str], dict[str, Any]]:
    """models(how) -> a run config's models section: the scripted conductor and a mutate
    role that rewrites ``how``."""
    from clade.orchestrator.models.scripted import register_script

    def make(how: str) -> dict[str, Any]:
        tag = uuid.uuid4().hex[:8]
        return {
            "default": register_script(f"ps-conductor-{tag}", conductor),
            "roles": {  # a whole meta prompt is ~700 words: a scripted word is a token
                "mutate": {
                    "model": register_script(f"ps-mutate-{tag}", mutate(how)),
                    "max_tokens": 4096,
                },
            },
            "retry": {"max_retries": 0},
        }

    return make
