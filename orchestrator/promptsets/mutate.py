"""The ``mutate`` role: GEPA-style reflection on a prompt set's failures.

Two calls make a child, as diagnosis and self-modification make an agent's:

1. :func:`propose` shows one text of the parent (a :class:`Target`: a conductor template,
   or a judge's meta-prompt) and a few of its failed dev tasks (question, answer, the
   grader's feedback) and asks for a :class:`~clade.orchestrator.dgm.diagnosis.Proposal`:
   what failed, and the change;
2. :func:`rewrite` shows the same and the proposal and asks for the text in full, as
   one JSON object ``{"template": ...}``, the way GEPA's reflection asks for "a new
   instruction" (Agrawal et al., 2025) after reading inputs, outputs and feedback.

On local engines both decode under a JSON schema, so a tiny model answers in the right
shape. A rewritten text must pass its target's check: a conductor template must render
with its field's variables and, for ``question``, still show the question
(:func:`check_template`); a reply that fails is shown its error and asked again, and after
the last try the child is a failed candidate, never a crash.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from clade import prompts
from clade.orchestrator.conductor.promptset import PromptSet
from clade.orchestrator.dgm.diagnosis import DiagnosisFailed, Proposal, json_values, parse_proposal
from clade.orchestrator.dgm.protocol import SelfModificationFailed

Chat = Callable[[list[dict[str, str]]], str]

#: Sample values of each template's variables: a rewritten template must render with them.
VARIABLES: dict[str, dict[str, Any]] = {
    "meta": {"python": False, "rounds": 3, "structured": False},
    "question": {"question": "Sort these words alphabetically: zu ka"},
    "expert": {"name": "Expert Linguist"},
    "python": {"timeout_s": "10"},
    "feedback": {},
    "reminder": {"structured": False},
    "last_round": {},
    "round_label": {"round": 2},
}
#: What each template is for, for the mutate role.
DESCRIPTIONS = {
    name: str(field.description).split(";")[0] for name, field in PromptSet.model_fields.items()
}
#: Text a template must keep: the question template must still show the question.
REQUIRED = {"question": "{{ question }}"}
#: Who follows a conductor template, for the mutate role.
CONDUCTOR_SUBJECT = (
    "The assistant is a Meta-Expert that answers questions by consulting experts; its "
    "behaviour is set by prompt templates."
)
#: Lines of an evaluation log that the mutate role reads back (see :func:`task_log`).
_ANSWER, _FEEDBACK = "answer: ", "feedback: "


@dataclass(frozen=True)
class Failure:
    """One failed dev task as the mutate role sees it."""

    question: str
    answer: str
    feedback: str


def task_log(answer: str | None, feedback: str, transcript: str) -> str:
    """An evaluation's log: the answer and the grader's feedback first, then the trace."""
    first = " ".join((answer or "(no answer)").split())[:500]
    return f"{_ANSWER}{first}\n{_FEEDBACK}{' '.join(feedback.split())[:500]}\n\n{transcript}"


def failure_of(question: str, log: str) -> Failure:
    """A failure from its task's question and its evaluation's log (see :func:`task_log`)."""
    lines = log.splitlines()
    answer = next((x[len(_ANSWER) :] for x in lines[:2] if x.startswith(_ANSWER)), "?")
    feedback = next((x[len(_FEEDBACK) :] for x in lines[:2] if x.startswith(_FEEDBACK)), "")
    return Failure(question, answer, feedback or "wrong answer")


def check_template(parent: PromptSet, field: str, text: str) -> PromptSet:
    """The set with ``field`` replaced by ``text``; ValueError when it does not render
    with the field's variables, renders empty, or drops what it must keep."""
    if not text.strip():
        raise ValueError("the template is empty")
    child = parent.model_copy(update={field: text})
    try:
        rendered = child.render(field, **VARIABLES[field])
    except Exception as exc:  # jinja2's syntax and undefined-variable errors
        raise ValueError(f"the template does not render: {type(exc).__name__}: {exc}") from None
    if not rendered:
        raise ValueError("the template renders to nothing")
    required = REQUIRED.get(field)
    if required is not None and str(VARIABLES[field]["question"]) not in rendered:
        raise ValueError(f"the template must contain {required}")
    return child


@dataclass(frozen=True)
class Target:
    """The text one child rewrites, and what a usable rewrite of it is.

    ``check`` raises ValueError on a text that cannot be used; ``variables`` are the names a
    Jinja2 template may use (None: the text is not a template); ``required`` is text a
    rewrite must keep; ``min_chars`` its shortest length (also in the reply's schema)."""

    field: str
    description: str
    text: str
    subject: str
    check: Callable[[str], object]
    variables: tuple[str, ...] | None = None
    required: str = ""
    min_chars: int = 1

    @property
    def noun(self) -> str:
        return "template" if self.variables is not None else "text"


def template_target(parent: PromptSet, name: str) -> Target:
    """The conductor template ``name`` of ``parent`` as a mutate target."""
    return Target(
        field=name, description=DESCRIPTIONS[name], text=getattr(parent, name),
        subject=CONDUCTOR_SUBJECT, check=lambda text: check_template(parent, name, text),
        variables=tuple(VARIABLES[name]), required=REQUIRED.get(name, ""),
    )  # fmt: skip


def _context(target: Target, failures: Sequence[Failure]) -> dict[str, Any]:
    return {"field": target.field, "description": target.description, "template": target.text,
            "subject": target.subject, "is_template": target.variables is not None,
            "failures": failures}  # fmt: skip


def propose(chat: Chat, target: Target, failures: Sequence[Failure], tries: int = 2) -> Proposal:
    """The mutate role's proposal for ``target`` (DiagnosisFailed after ``tries`` bad replies)."""
    messages = [
        {"role": "user", "content": prompts.render("mutate_propose", **_context(target, failures))}
    ]  # fmt: skip
    replies: list[str] = []
    for _ in range(tries):
        reply = chat(messages)
        replies.append(reply)
        try:
            return parse_proposal(reply, experience=False)
        except ValueError as exc:
            messages += _retry(reply, f"That was not a valid answer: {exc}.")
    raise DiagnosisFailed(f"no valid proposal after {tries} tries", replies)


def parse_template(reply: str) -> str:
    """The ``template`` of the first JSON object in ``reply`` that has one."""
    for value in json_values(reply):
        if isinstance(value, dict) and isinstance(value.get("template"), str):
            return value["template"]
    raise ValueError('no JSON object with a "template" string in the reply')


def rewrite(
    chat: Chat,
    target: Target,
    proposal: Proposal,
    failures: Sequence[Failure],
    *,
    max_chars: int,
    tries: int = 2,
) -> tuple[str, str]:
    """The text of ``target`` rewritten by the mutate role, and the exchange as a log;
    SelfModificationFailed when no reply gives a text that passes the target's check."""
    variables = ", ".join(target.variables or ()) or "none"
    prompt = prompts.render(
        "mutate_rewrite", **_context(target, failures), proposal=proposal,
        variables=variables, required=target.required, max_chars=max_chars,
    )  # fmt: skip
    messages = [{"role": "user", "content": prompt}]
    log: list[str] = [f"## prompt\n{prompt}"]
    for _ in range(tries):
        reply = chat(messages)
        log.append(f"## reply\n{reply}")
        try:
            text = parse_template(reply)
            if len(text) > max_chars:
                raise ValueError(f"the template has {len(text)} characters, over {max_chars}")
            target.check(text)
            return text, "\n\n".join(log)
        except ValueError as exc:
            log.append(f"## rejected\n{exc}")
            messages += _retry(reply, f"That {target.noun} cannot be used: {exc}.")
    raise SelfModificationFailed(
        f"no usable {target.field} {target.noun} after {tries} tries: {log[-1].splitlines()[-1]}",
        "\n\n".join(log),
    )


def _retry(reply: str, why: str) -> list[dict[str, str]]:
    return [
        {"role": "assistant", "content": reply},
        {"role": "user", "content": f"{why} Reply with the JSON object only."},
    ]


def template_format(max_chars: int, min_chars: int = 1) -> dict[str, Any]:
    """The ``response_format`` of a rewrite: one object holding the template."""
    length = {"minLength": min(min_chars, max_chars), "maxLength": max_chars}
    schema = {
        "type": "object",
        "properties": {"template": {"type": "string", **length}},
        "required": ["template"],
        "additionalProperties": False,
    }
    return {"type": "json_schema", "json_schema": {"name": "template", "schema": schema}}
