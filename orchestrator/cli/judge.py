"""`clade judge`: judge pairs of answers with a vanilla, LWE or selective-LWE judge.

Reads JSON lines ``{question, answer_a, answer_b, label?}``; writes one verdict row per
pair (JSON lines, stdout or ``--out``) and prints the metrics to stderr. Model calls,
each pair's trace and every version of the judge's meta-prompt go to the archive. With
``--gold`` every version of the meta-prompt is scored on the gold set (agreement and
position consistency, printed per version and kept as traces of kind ``gold``), and
``--gold-tolerance`` refuses updates that lower gold agreement by more than it.
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
        str | None,
        typer.Option(
            help="Model of the judge (and of updates of M); default: CLADE_DEFAULT_MODEL."
        ),
    ] = None,
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
    gold: Annotated[
        bool,
        typer.Option(
            "--gold/--no-gold",
            help="Score every version of the meta-prompt on the shipped gold set (both orders).",
        ),
    ] = False,
    gold_file: Annotated[
        Path | None, typer.Option(help="Another gold set (JSONL of GoldPair rows); implies --gold.")
    ] = None,
    gold_limit: Annotated[
        int | None, typer.Option(min=1, help="Score on the first N gold pairs only (a mix).")
    ] = None,
    meta_prompt: Annotated[
        str | None,
        typer.Option(
            help="Start M from this (lwe, selective): a candidate of a judge prompt-set run "
            "(id or prefix, see docs/PROMPT_SETS.md) or a text file; default: the shipped seed.",
        ),
    ] = None,
    gold_tolerance: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Refuse an update of the meta-prompt whose gold agreement drops by more than "
            "this (lwe, selective); implies --gold.",
        ),
    ] = None,
) -> None:
    """Judge which of two answers is better; learn while judging with --method lwe/selective.

    From Python: ``clade.orchestrator.judges.recorded.judge_recorded``.
    """
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from clade.archive.errors import ConfigError
    from clade.orchestrator.config import settings
    from clade.orchestrator.home import open_archive
    from clade.orchestrator.judges.recorded import GoldOptions, judge_recorded
    from clade.orchestrator.judges.runner import METHODS

    if method not in METHODS:
        raise ConfigError(f"unknown method {method!r}", hint=f"use one of {', '.join(METHODS)}")
    if gold_tolerance is not None and method == "vanilla":
        raise ConfigError(
            "--gold-tolerance applies to learning judges", hint="use --method lwe or selective"
        )
    if meta_prompt is not None and (method == "vanilla" or resume):
        raise ConfigError(
            "--meta-prompt starts a learning judge's M",
            hint="use --method lwe or selective, without --resume",
        )
    pairs = _read_pairs(pairs_file)
    both = swap if swap is not None else any(p.label is not None for p in pairs)
    use_gold = gold or gold_file is not None or gold_tolerance is not None
    gold_options = None
    console = Console(stderr=True)
    if use_gold:
        gold_pairs, dropped = _gold_pairs(gold_file, gold_limit, pairs)
        gold_options = GoldOptions(gold_pairs, dropped, gold_tolerance, gold_file)
        console.print(
            f"scoring on {len(gold_pairs)} gold pairs"
            + (f" ({dropped} left out: the judge sees their questions)" if dropped else "")
        )
    model = model or settings().default_model
    archive = open_archive()
    seed = _meta_prompt(archive, meta_prompt) if meta_prompt is not None else None
    sink = out.open("w", encoding="utf-8") if out else None
    try:
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task(f"judging ({method})", total=len(pairs))

            def on_result(result: Any) -> None:
                line = json.dumps(result.model_dump())
                if sink is not None:
                    sink.write(line + "\n")
                    sink.flush()
                else:
                    typer.echo(line)
                bar.advance(task)

            judged = judge_recorded(
                archive, pairs, method=method, model=model, label=pairs_file.name, name=name,
                resume=resume, both_orders=both, gold=gold_options, on_result=on_result,
                meta_prompt=seed,
            )  # fmt: skip
    finally:
        if sink is not None:
            sink.close()
    table = Table(title=f"clade judge --method {method} ({model}), run {judged.run_id}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in judged.metrics.model_dump().items():
        table.add_row(key.replace("_", " "), "-" if value is None else str(value))
    console.print(table)
    if judged.gold:
        console.print(
            gold_table(
                judged.gold,
                f"gold set: {len(gold_options.pairs) if gold_options else 0} pairs, both orders",
            )
        )


def _meta_prompt(archive: Any, value: str) -> str:
    """The meta-prompt in the text file ``value``, or in candidate ``value``'s tree."""
    if Path(value).is_file():
        return Path(value).read_text(encoding="utf-8")
    from clade.orchestrator.promptsets import meta_prompt_of

    candidate = archive.get_candidate(archive.resolve_id(value))
    return meta_prompt_of(archive.blobs.files(candidate.tree_hash))


def _gold_pairs(path: Path | None, limit: int | None, pairs: list[Any]) -> tuple[list[Any], int]:
    """The gold pairs to score on: those whose question the judge will not see."""
    from clade.archive.errors import ConfigError
    from clade.orchestrator.judges.gold import held_out, load_gold

    kept, dropped = held_out(load_gold(path, limit=limit), pairs)
    if not kept:
        raise ConfigError(
            "every gold pair's question is among the pairs to judge",
            hint="judge other pairs, or give another --gold-file",
        )
    return kept, dropped


def gold_table(reports: list[Any], title: str) -> Any:
    """One row per scored meta-prompt version (and refused update)."""
    from rich.table import Table

    table = Table(title=title)
    for column in ("version", "what", "agreement", "consistency", "pair agreement", "valid"):
        table.add_column(column, justify="left" if column == "what" else "right")
    table.add_column("", justify="left")
    for r in reports:
        fate = {True: "accepted", False: "refused", None: ""}[r.accepted]
        table.add_row(
            "-" if r.version is None else str(r.version), r.label, f"{r.agreement:.3f}",
            f"{r.consistency:.3f}", f"{r.pair_agreement:.3f}", f"{r.valid:.3f}", fate,
        )  # fmt: skip
    return table


def register(app: typer.Typer) -> None:
    app.command("judge")(judge_command)
