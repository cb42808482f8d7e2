"""Meta-prompting (Suzgun and Kalai, 2024) as a LangGraph subgraph.

The conductor (role ``conductor``) gets the meta-expert instruction and the question. Each
of its turns is one round, labelled ``ROUND k:``; the last allowed round says so. A turn
may call experts (``Expert <Name>:`` + an instruction in triple quotes): every call is sent,
in order, to a fresh model call (role ``expert``) that sees only a system line naming the
expert and the instruction. When Expert Python asks for its code to be run, the code runs
in the :class:`PythonExpert`'s sandbox and its output is appended to the reply. The replies
go back to the conductor in one message, each labelled with the expert's name, followed by
the instruction to decide the next step and verify. Expert calls are checked before the
final answer: a ``>> FINAL ANSWER:`` block ends the loop only in a turn that calls no
expert. A turn with neither gets a format reminder. Past the round limit: no answer.

With ``structured`` turns (:mod:`.structured`; by default on engines that decode under a
grammar) the conductor's turn is one JSON object, expert calls or a final answer, decoded
under its schema (in the last round: an answer only); an Expert Python call may carry the
conductor's own ``code``, which runs in the sandbox without an expert call. The experts'
replies stay free text.

Nodes: ``conductor`` -> (``experts`` -> [``python``] -> ``report`` | ``remind``) ->
``conductor`` ..., ``finish``. :func:`build_conductor_graph` returns the compiled graph, which
another graph can add as a node (its state keys are those of :class:`ConductorState`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field

from .parse import QUOTES, code_to_run, parse_turn
from .promptset import PromptSet
from .python_expert import PythonExpert, report
from .structured import StructuredMode, parse_structured_turn, turn_format, uses_structure

if TYPE_CHECKING:
    from clade.orchestrator.models.layer import ModelLayer

Step = dict[str, Any]
OnStep = Callable[[Step], None]


class Meter(TypedDict):
    """Whom the conductor's model calls are metered to."""

    run_id: str | None
    candidate_id: str | None


class ConductorSettings(BaseModel):
    """How a conductor runs (the paper's defaults)."""

    model_config = ConfigDict(extra="forbid")

    rounds: int = Field(default=15, ge=1, le=100, description="Conductor turns allowed.")
    temperature: float = Field(default=0.1, ge=0.0, description="Sampling temperature, all calls.")
    top_p: float = Field(default=0.95, gt=0.0, le=1.0, description="Nucleus mass, all calls.")
    max_tokens: int | None = Field(
        default=None, ge=1, description="Tokens per call; None: the role's model spec decides."
    )
    structured: StructuredMode = Field(
        default="auto",
        description="Decode the conductor's turns as JSON under a grammar (expert calls or a "
        "final answer): on, off, or auto (on where the model decodes under a grammar: llama.cpp).",
    )


class ConductorState(TypedDict, total=False):
    """The subgraph's state; every node returns the keys it changes."""

    messages: list[dict[str, str]]  # the conductor's conversation, as sent
    steps: list[Step]  # the trace: conductor messages, expert calls, code runs
    next_message: str  # the next user message to the conductor, before its round label
    round: int  # conductor turns taken
    calls: int  # model calls made
    tokens: int  # prompt + completion tokens of those calls
    pending: list[dict[str, str]]  # this turn's expert calls: name, instruction, code, reply
    answer: str | None  # the final answer, once given
    status: Literal["running", "answered", "no_answer"]


class ConductorResult(BaseModel):
    """The outcome of one solve."""

    answer: str | None = Field(description="The final answer; None when none was given.")
    messages: list[dict[str, str]] = Field(description="The conductor's conversation.")
    steps: list[dict[str, Any]] = Field(description="Every message, expert call and code run.")
    calls: int = Field(description="Model calls (conductor and experts).")
    tokens: int = Field(description="Prompt plus completion tokens of those calls.")
    rounds: int = Field(description="Conductor turns taken.")


class _Conductor:
    """The nodes, bound to a model layer, prompts and an optional Python expert."""

    def __init__(
        self,
        layer: ModelLayer,
        settings: ConductorSettings,
        prompts: PromptSet,
        python: PythonExpert | None,
        meter: Meter,
        on_step: OnStep | None,
        structured: bool = False,
    ) -> None:
        self.layer, self.settings, self.prompts, self.python = layer, settings, prompts, python
        self.meter, self.on_step, self.structured = meter, on_step, structured

    def _call(
        self, messages: list[dict[str, str]], role: str, fmt: dict[str, Any] | None = None
    ) -> tuple[str, int]:
        result = self.layer.complete(
            messages,
            role=role,
            temperature=self.settings.temperature,
            top_p=self.settings.top_p,
            max_tokens=self.settings.max_tokens,
            response_format=fmt,
            **self.meter,
        )
        return result.text, result.prompt_tokens + result.completion_tokens

    def _steps(self, state: ConductorState, *new: Step) -> list[Step]:
        for step in new:
            if self.on_step is not None:
                self.on_step(step)
        return [*state.get("steps", []), *new]

    def conductor(self, state: ConductorState) -> ConductorState:
        k = state.get("round", 0) + 1
        content = self.prompts.render("round_label", round=k) + "\n\n" + state["next_message"]
        if k == self.settings.rounds:
            content += "\n\n" + self.prompts.render("last_round")
        messages = [*state["messages"], {"role": "user", "content": content}]
        python = self.python is not None
        last = k == self.settings.rounds  # structured: only an answer fits the last round
        fmt = turn_format(python=python, final_only=last) if self.structured else None
        text, used = self._call(messages, "conductor", fmt)
        messages.append({"role": "assistant", "content": text})
        turn = (parse_structured_turn(text, python=python) if self.structured else None) or (
            parse_turn(text)
        )
        said: Step = {"round": k, "kind": "message", "role": "assistant", "content": text,
                      "format": "json" if self.structured else "text",
                      "turn": {"experts": len(turn.experts), "answer": turn.final_answer is not None}}  # fmt: skip
        return {
            "messages": messages,
            "steps": self._steps(
                state, {"round": k, "kind": "message", "role": "user", "content": content}, said
            ),
            "round": k,
            "calls": state.get("calls", 0) + 1,
            "tokens": state.get("tokens", 0) + used,
            "pending": [
                {"name": c.name, "instruction": c.instruction, "code": c.code or "", "reply": ""}
                for c in turn.experts
            ],
            "answer": None if turn.experts else turn.final_answer,
        }

    def route(self, state: ConductorState) -> str:
        if state["pending"]:
            return "experts" if state["round"] < self.settings.rounds else "finish"
        if state.get("answer") is not None or state["round"] >= self.settings.rounds:
            return "finish"
        return "remind"

    def remind(self, state: ConductorState) -> ConductorState:
        return {"next_message": self.prompts.render("reminder", structured=self.structured)}

    def experts(self, state: ConductorState) -> ConductorState:
        pending, steps, calls, tokens = [], [], state["calls"], state["tokens"]
        for call in state["pending"]:
            if call.get("code") and self.python is not None:
                pending.append(call)  # the conductor wrote the code: it runs, no expert call
                continue
            if call["name"].lower() == "expert python" and self.python is not None:
                system = self.prompts.render("python", timeout_s=f"{self.python.timeout_s:g}")
            else:
                system = self.prompts.render("expert", name=call["name"])
            messages = [
                {"role": "system", "content": system},
                {"role": "user", "content": call["instruction"]},
            ]
            reply, used = self._call(messages, "expert")
            calls, tokens = calls + 1, tokens + used
            pending.append(call | {"reply": reply})
            steps.append(
                {"round": state["round"], "kind": "expert", "name": call["name"],
                 "system": system, "instruction": call["instruction"], "reply": reply}
            )  # fmt: skip
        return {
            "pending": pending, "calls": calls, "tokens": tokens,
            "steps": self._steps(state, *steps),
        }  # fmt: skip

    def wants_python(self, state: ConductorState) -> str:
        if self.python is not None and any(
            c.get("code") or (c["name"].lower() == "expert python" and code_to_run(c["reply"]))
            for c in state["pending"]
        ):
            return "python"
        return "report"

    def run_python(self, state: ConductorState) -> ConductorState:
        assert self.python is not None
        pending, steps = [], []
        for call in state["pending"]:
            code = call.get("code") or (
                code_to_run(call["reply"]) if call["name"].lower() == "expert python" else None
            )
            if code:
                run = self.python.run(code)
                said = call["reply"].rstrip()
                call = call | {"reply": (said + "\n\n" if said else "") + report(run)}
                steps.append({"round": state["round"], "kind": "python", **run.model_dump()})
            pending.append(call)
        return {"pending": pending, "steps": self._steps(state, *steps)}

    def report(self, state: ConductorState) -> ConductorState:
        outputs = [
            f"{c['name']}'s output:\n{QUOTES}\n{c['reply'].strip()}\n{QUOTES}"
            for c in state["pending"]
        ]
        feedback = self.prompts.render("feedback")
        return {"next_message": "\n\n".join([*outputs, feedback]), "pending": []}

    def finish(self, state: ConductorState) -> ConductorState:
        answer = state.get("answer") if not state["pending"] else None
        return {"answer": answer, "status": "answered" if answer is not None else "no_answer"}


def build_conductor_graph(
    layer: ModelLayer,
    *,
    settings: ConductorSettings | None = None,
    prompts: PromptSet | None = None,
    python: PythonExpert | None = None,
    run_id: str | None = None,
    candidate_id: str | None = None,
    on_step: OnStep | None = None,
) -> Any:
    """The conductor loop as a compiled LangGraph graph (embeddable as a subgraph).

    Its input is :func:`initial_state` (with ``structured`` as :func:`.uses_structure` says
    for ``settings.structured``); ``layer`` is a ModelLayer (roles ``conductor`` and
    ``expert``). Model calls are metered to ``run_id``/``candidate_id``."""
    from langgraph.graph import END, START, StateGraph

    settings = settings or ConductorSettings()
    nodes = _Conductor(
        layer, settings, prompts or PromptSet.default(), python,
        {"run_id": run_id, "candidate_id": candidate_id}, on_step,
        uses_structure(layer, settings.structured),
    )  # fmt: skip
    graph = StateGraph(ConductorState)
    graph.add_node("conductor", nodes.conductor)
    graph.add_node("remind", nodes.remind)
    graph.add_node("experts", nodes.experts)
    graph.add_node("python", nodes.run_python)
    graph.add_node("report", nodes.report)
    graph.add_node("finish", nodes.finish)
    graph.add_edge(START, "conductor")
    graph.add_conditional_edges("conductor", nodes.route, ["experts", "remind", "finish"])
    graph.add_edge("remind", "conductor")
    graph.add_conditional_edges("experts", nodes.wants_python, ["python", "report"])
    graph.add_edge("python", "report")
    graph.add_edge("report", "conductor")
    graph.add_edge("finish", END)
    return graph.compile()


def initial_state(
    question: str,
    *,
    settings: ConductorSettings,
    prompts: PromptSet,
    python: bool,
    structured: bool = False,
) -> ConductorState:
    """The input of the conductor graph for ``question`` (``structured``: the meta prompt
    describes JSON turns)."""
    system = prompts.render("meta", python=python, rounds=settings.rounds, structured=structured)
    return {
        "messages": [{"role": "system", "content": system}],
        "steps": [{"round": 0, "kind": "message", "role": "system", "content": system}],
        "next_message": prompts.render("question", question=question),
        "round": 0, "calls": 0, "tokens": 0, "pending": [], "answer": None, "status": "running",
    }  # fmt: skip


def solve(
    question: str,
    layer: ModelLayer,
    *,
    rounds: int = 15,
    python: PythonExpert | None = None,
    settings: ConductorSettings | None = None,
    prompts: PromptSet | None = None,
    run_id: str | None = None,
    candidate_id: str | None = None,
    on_step: OnStep | None = None,
) -> ConductorResult:
    """Answer ``question`` with a conductor and its experts (``settings`` overrides ``rounds``)."""
    settings = settings or ConductorSettings(rounds=rounds)
    prompts = prompts or PromptSet.default()
    graph = build_conductor_graph(
        layer, settings=settings, prompts=prompts, python=python,
        run_id=run_id, candidate_id=candidate_id, on_step=on_step,
    )  # fmt: skip
    state = initial_state(
        question, settings=settings, prompts=prompts, python=python is not None,
        structured=uses_structure(layer, settings.structured),
    )  # fmt: skip
    final = graph.invoke(state, {"recursion_limit": 5 * settings.rounds + 10})
    return ConductorResult(
        answer=final.get("answer"), messages=final["messages"], steps=final["steps"],
        calls=final["calls"], tokens=final["tokens"], rounds=final["round"],
    )  # fmt: skip
