"""`clade solve`: answer one question with a meta-prompting conductor and its experts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer


def solve(
    question: Annotated[str, typer.Argument(help="The question to answer.")],
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", help="Model of the conductor (and of the experts)."),
    ] = None,
    expert_model: Annotated[
        str | None, typer.Option(help="Model of the experts, when it differs from --model.")
    ] = None,
    rounds: Annotated[int, typer.Option(min=1, max=100, help="Conductor turns allowed.")] = 15,
    max_tokens: Annotated[
        int | None, typer.Option(min=1, help="Tokens per model call (default: the model's).")
    ] = None,
    python: Annotated[
        bool,
        typer.Option(
            "--python/--no-python",
            help="Let Expert Python run code in a Docker sandbox (no network).",
        ),
    ] = True,
    prompt_set: Annotated[
        str | None,
        typer.Option(
            help="The meta-expert prompt set: a stored candidate's id, or a folder of <field>.j2 "
            "files (stored in the archive as a new prompt_set candidate of this run)."
        ),
    ] = None,
    save_prompts: Annotated[
        Path | None,
        typer.Option(help="Also write the prompt set in use to this folder, to edit and reuse."),
    ] = None,
    show_trace: Annotated[
        bool, typer.Option("--show-trace", help="Print the whole conversation.")
    ] = False,
    structured: Annotated[
        bool | None,
        typer.Option(
            "--structured/--no-structured",
            help="Decode the conductor's turns as JSON under a grammar (expert calls or a final "
            "answer). Default: on where the model decodes under a grammar (llama.cpp).",
        ),
    ] = None,
) -> None:
    """Answer QUESTION by meta-prompting (Suzgun and Kalai, 2024).

    A conductor model breaks the question down and calls experts (fresh calls of a model
    that see only their instruction) and Expert Python (code run in a sandbox), then
    verifies and answers. The conversation is stored in the archive as a trace.
    From Python: ``clade.orchestrator.conductor.recorded.solve_recorded``.
    """
    from rich.console import Console

    from clade.orchestrator.conductor import ConductorSettings, StructuredMode
    from clade.orchestrator.conductor.recorded import choose_prompt_set, solve_recorded
    from clade.orchestrator.config import settings
    from clade.orchestrator.home import open_archive

    console = Console()
    archive = open_archive()
    choice = choose_prompt_set(archive, prompt_set)
    if save_prompts is not None:
        save_prompts.mkdir(parents=True, exist_ok=True)
        for name, text in choice.prompts.files().items():
            (save_prompts / name).write_text(text, encoding="utf-8")
    conductor_model = model or settings().default_model
    roles = {"conductor": conductor_model, "expert": expert_model or conductor_model}
    mode: StructuredMode = "auto" if structured is None else ("on" if structured else "off")
    config = ConductorSettings(rounds=rounds, max_tokens=max_tokens, structured=mode)
    with console.status("round 1: conductor") as status:

        def progress(step: dict[str, Any]) -> None:
            if step["kind"] == "expert":
                status.update(f"round {step['round']}: {step['name']} answered")
            elif step["kind"] == "message" and step["role"] == "assistant":
                status.update(f"round {step['round']}: conductor answered")

        solved = solve_recorded(
            archive, question, roles, choice, settings=config, python=python, on_step=progress
        )
    result = solved.result
    if show_trace:
        print_trace(console, result.steps)
    if result.answer is None:
        console.print(f"[yellow]no answer[/] after {result.rounds} round(s)")
    else:
        console.print(result.answer, markup=False, highlight=False)
    turns = [s for s in result.steps if s.get("role") == "assistant"]
    well_formed = sum(
        bool(s["turn"]["experts"] or s["turn"]["answer"]) for s in turns if "turn" in s
    )
    shape = "JSON" if any(s.get("format") == "json" for s in turns) else "text"
    console.print(
        f"[dim]{result.calls} calls, {result.tokens} tokens, {result.rounds} rounds "
        f"({shape} turns, {well_formed} of {len(turns)} well formed); "
        f"run {solved.run_id}, trace {solved.trace_id}[/]",
        highlight=False,
    )


def print_trace(console: Any, steps: list[dict[str, Any]]) -> None:
    """Print a conductor's trace: its messages, the expert calls and the code runs."""
    from rich.panel import Panel
    from rich.text import Text

    for step in steps:
        if step["kind"] == "message":
            colour = {"system": "dim", "user": "cyan", "assistant": "green"}[step["role"]]
            title = "meta-expert instruction" if step["role"] == "system" else (
                "to the conductor" if step["role"] == "user" else "conductor"
            )  # fmt: skip
            body = Text(step["content"])
        elif step["kind"] == "expert":
            colour, title = "magenta", f"{step['name']} (sees only this)"
            body = Text(f"{step['system']}\n\n{step['instruction']}\n\n--- reply ---\n")
            body.append(step["reply"])
        else:
            colour = "yellow"
            title = "Expert Python's code ran" + (" (timed out)" if step["timed_out"] else "")
            body = Text(f"{step['code']}\n\n--- stdout ---\n{step['stdout']}")
            if step["stderr"]:
                body.append(f"\n--- stderr ---\n{step['stderr']}")
        console.print(Panel(body, title=f"round {step['round']}: {title}", border_style=colour))


def register(app: typer.Typer) -> Any:
    app.command(no_args_is_help=True)(solve)
