"""Reading a conductor's turn and an expert's reply (pure text, no I/O).

A conductor calls an expert with ``Expert <Name>:`` followed by an instruction in triple
quotes, and ends with ``>> FINAL ANSWER:`` followed by the answer in triple quotes (the
conventions of meta-prompting, Suzgun and Kalai 2024). Expert Python asks for its code to
be run with :data:`RUN_REQUEST`; the last fenced block before that request is the code.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

QUOTES = '"""'
#: The phrase with which Expert Python asks for its code to be run (case-insensitive).
RUN_REQUEST = "Please run this code!"
#: The expert whose code is run.
PYTHON_EXPERT = "Expert Python"

# "Expert <one to five words>:" then, after optional blank space, a triple-quoted block.
_EXPERT = re.compile(r'(?<![\w-])Expert ((?:[\w\-]+ ?){1,5}?)\s*:\s*"""(.*?)"""', re.DOTALL)
_FINAL = re.compile(r'>>\s*FINAL ANSWER:\s*"""(.*?)"""', re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"```[ \t]*([\w+-]*)[ \t]*\n(.*?)```", re.DOTALL)
_REQUEST = re.compile(re.escape(RUN_REQUEST), re.IGNORECASE)


class ExpertCall(BaseModel):
    """One expert consulted by the conductor."""

    name: str = Field(description="The expert's full name, e.g. 'Expert Mathematician'.")
    instruction: str = Field(description="The text between the triple quotes, stripped.")
    code: str | None = Field(
        default=None,
        description="Code the conductor gave Expert Python to run (structured turns only).",
    )

    @property
    def is_python(self) -> bool:
        """Whether this is Expert Python, whose code may be run."""
        return self.name.lower() == PYTHON_EXPERT.lower()


class Turn(BaseModel):
    """What a conductor's turn asks for."""

    experts: list[ExpertCall] = Field(
        default_factory=list, description="Expert calls in the order they appear."
    )
    final_answer: str | None = Field(
        default=None, description="The text of the first final-answer block, if any."
    )


def parse_turn(text: str) -> Turn:
    """The expert calls and the final answer in a conductor's ``text``.

    A final-answer block is never read as an expert call, even when the conductor puts a
    line ``Expert ...:`` right before it.
    """
    final = _FINAL.search(text)
    answer = final.group(1).strip() if final else None
    # Blank the final-answer block so its quotes cannot be taken for an expert's.
    scan = text
    if final is not None:
        scan = text[: final.start()] + " " * (final.end() - final.start()) + text[final.end() :]
    experts = [
        ExpertCall(name=f"Expert {m.group(1).strip()}", instruction=m.group(2).strip())
        for m in _EXPERT.finditer(scan)
        if m.group(2).strip()
    ]
    return Turn(experts=experts, final_answer=answer)


def code_to_run(reply: str) -> str | None:
    """The code Expert Python asks to run: the last fenced block before the first request.

    None when the reply does not ask for a run or has no fenced block before the request.
    Blocks tagged with a language other than Python (``bash``, ``text``) are skipped.
    """
    request = _REQUEST.search(reply)
    if request is None:
        return None
    blocks = [
        body
        for lang, body in _FENCE.findall(reply[: request.start()])
        if lang.lower() in ("", "python", "py", "python3")
    ]
    return blocks[-1].strip("\n") if blocks else None
