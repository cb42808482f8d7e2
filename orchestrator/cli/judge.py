"""`clade judge`: judge pairs of answers with a vanilla, LWE or selective-LWE judge.

Reads JSON lines ``{question, answer_a, answer_b, label?}``; writes one verdict row per
pair (JSON lines, stdout or ``--out``) and prints the metrics to stderr. Model calls,
each pair's trace and every version of the judge's meta-prompt go to the archive.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer


def _read_pairs(path: Path) -> list[Any]:
    from pydantic import ValidationError

    from clade.archive.errors import ConfigError
    from clade.orchestrator.judges.verdict import Pair

    if not path.is_file():
        raise ConfigError(
            f"{path} not found", hint="give a JSONL file of {question, answer_a, answer_b, label?}"
        )
    pairs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            pairs.append(Pair.model_validate_json(line))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "row"
            raise ConfigError(
                f"{path}:{number}: {where}: {first['msg']}",
                hint="each line must be JSON with question, answer_a, answer_b and optionally label A|B",
            ) from None
    if not pairs:
        raise ConfigError(f"{path} holds no pairs", hint="add one JSON object per line")
    return pairs


def judge_command(
    pairs_file: Annotated[
        Path, typer.Argument(help="JSONL of {question, answer_a, answer_b, label?}.")
    ],
    method: Annotated[str, typer.Option(help="vanilla, lwe or selective.")] = "selective",
    model: Annotated[
        str, typer.Option(help="Model of the judge (and of updates of M).")
    ] = "smollm2-135m",
    out: Annotated[
        Path | None, typer.Option(help="Write verdict rows here instead of stdout.")
    ] = None,
    name: Annotated[
        str, typer.Option(help="Name the judge's meta-prompt is kept under.")
    ] = "default",
    resume: Annotated[
        bool, typer.Option("--resume", help="Start from the latest meta-prompt kept under --name.")
    ] = False,
    swap: Annotated[
        bool | None,
        typer.Option(
            "--swap/--no-swap",
            help="Also judge each pair swapped (default: when any row has a label).",
        ),
    ] = None,
) -> None:
    """Judge which of two answers is better; learn while judging with --method lwe/selective."""
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from clade.archive.errors import ConfigError
    from clade.orchestrator.dgm.launch import open_archive
    from clade.orchestrator.judges.caller import Caller
    from clade.orchestrator.judges.runner import METHODS, build_judge, judge_pairs, metrics
    from clade.orchestrator.judges.store import ArchiveStore
    from clade.orchestrator.models.layer import ModelLayer
    from clade.orchestrator.models.metering import ArchiveSink
    from clade.orchestrator.models.spec import ModelsConfig

    if method not in METHODS:
        raise ConfigError(f"unknown method {method!r}", hint=f"use one of {', '.join(METHODS)}")
    pairs = _read_pairs(pairs_file)
    both = swap if swap is not None else any(p.label is not None for p in pairs)
    console = Console(stderr=True)
    archive = open_archive()
    run = archive.create_run(
        name=f"judge {method} {pairs_file.name}",
        kind="judge",
        config={"method": method, "model": model, "name": name, "resume": resume, "swap": both},
    )

    layer = ModelLayer(
        ModelsConfig.model_validate({"default": {"model": model}}),
        sink=ArchiveSink(archive),
        run_id=run.id,
    )
    caller = Caller(layer, run_id=run.id)
    judge = build_judge(
        method,
        caller,
        ArchiveStore(archive, name, run.id),
        resume=resume,
    )
    sink = out.open("w", encoding="utf-8") if out else None
    status = "failed"
    try:
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task(f"judging ({method})", total=len(pairs))

            def on_item(result: Any, decisions: list[Any]) -> None:
                archive.record_trace(
                    "judge", result.id, [d.model_dump() for d in decisions], answer=result.verdict,
                    run_id=run.id, calls=result.calls, tokens=result.tokens,
                    meta={"method": method, "label": result.label},
                )  # fmt: skip
                line = json.dumps(result.model_dump())
                if sink is not None:
                    sink.write(line + "\n")
                    sink.flush()
                else:
                    typer.echo(line)
                bar.advance(task)

            results = judge_pairs(judge, caller, pairs, both_orders=both, on_item=on_item)
        status = "finished"
    finally:
        if sink is not None:
            sink.close()
        archive.finish_run(run.id, status)
    found = metrics(results, caller)
    table = Table(title=f"clade judge --method {method} ({model}), run {run.id}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in found.model_dump().items():
        table.add_row(key.replace("_", " "), "-" if value is None else str(value))
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("judge")(judge_command)
