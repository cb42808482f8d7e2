"""`clade eval`: score one agent (archived or on disk) on an evaluator, without a run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer

from .evaluators import OPTION_HELP, parse_options

if TYPE_CHECKING:
    from clade.orchestrator.evaluators.base import Split


def eval_command(
    candidate: Annotated[
        str,
        typer.Argument(
            help="An archived candidate id (or unique prefix), or a folder holding a `coder` package."
        ),
    ],
    evaluator: Annotated[
        str, typer.Option("--evaluator", "-e", help="Evaluator name or import path (module:Class).")
    ],
    split: Annotated[str, typer.Option(help="dev or test.")] = "test",
    limit: Annotated[int, typer.Option(help="Score the first N tasks of the split.")] = 10,
    model: Annotated[str, typer.Option(help="Model the agent calls.")] = "smollm2-135m",
    parallel: Annotated[int, typer.Option(help="Tasks run at once.")] = 2,
    option: Annotated[list[str] | None, typer.Option("--option", "-o", help=OPTION_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Run the agent on tasks in a Docker sandbox and grade its work in a fresh one."""
    from rich.console import Console
    from rich.markup import escape

    from clade.archive.errors import ConfigError
    from clade.orchestrator.config import settings
    from clade.orchestrator.dgm.steps import seed_files
    from clade.orchestrator.evaluators.registry import load_evaluator
    from clade.orchestrator.evaluators.runner import AgentLimits, agent_sandboxes, run_tasks
    from clade.orchestrator.models.gateway import Gateway
    from clade.orchestrator.models.layer import ModelLayer
    from clade.orchestrator.models.spec import ModelsConfig
    from clade.sandbox import DockerSandbox, SandboxConfig
    from clade.sandbox.images import build_agent_image

    if split not in ("dev", "test"):
        raise ConfigError(f"unknown split {split!r}", hint="use dev or test")
    bench = load_evaluator(evaluator, **parse_options(option or []))
    tasks = bench.tasks(cast("Split", split))[:limit]
    folder = Path(candidate)
    if folder.is_dir():
        files = seed_files(folder)
        if not any(p.startswith("coder/") for p in files):
            raise ConfigError(
                f"{folder} holds no coder/ package", hint="give the folder that contains coder/"
            )
    else:
        from clade.orchestrator.dgm.launch import open_archive

        archive = open_archive()
        files = archive.blobs.files(archive.get_candidate(archive.resolve_id(candidate)).tree_hash)
    layer = ModelLayer(ModelsConfig.model_validate({"default": {"model": model}}))
    gateway = Gateway(layer)
    config = SandboxConfig(
        image=build_agent_image(settings().base_image).tag, slots=max(1, parallel)
    )
    Console(stderr=True).print(f"scoring on {len(tasks)} {bench.name} {split} task(s) with {model}")
    with agent_sandboxes(DockerSandbox, config, files, AgentLimits(), gateway.serve_unix) as (
        session,
        grader,
    ):
        results = run_tasks(session, grader, bench, tasks, parallel)
    passed = sum(score.passed for score, _ in results)
    if as_json:
        rows = [
            {"task": t.id, "score": s.score, "passed": s.passed, "detail": s.detail}
            for t, (s, _) in zip(tasks, results, strict=True)
        ]
        typer.echo(
            json.dumps(
                {
                    "evaluator": bench.name,
                    "split": split,
                    "passed": passed,
                    "total": len(tasks),
                    "tasks": rows,
                }
            )
        )
        return
    for task, (score, _) in zip(tasks, results, strict=True):
        mark = "[green]pass[/]" if score.passed else "[red]fail[/]"
        Console().print(f"{mark} {escape(task.id)} {escape(score.detail[:100])}")
    typer.echo(f"{passed}/{len(tasks)} passed")


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)
