"""One conductor solve recorded in the archive (what `clade solve` does), usable from Python.

    choice = choose_prompt_set(archive, None)           # or a candidate id, or a folder
    solved = solve_recorded(archive, "What is 2+2?", {"conductor": "smollm2-135m"}, choice)
    solved.result.answer, solved.run_id, solved.trace_id

The solve is a run of kind ``conductor`` (its models, settings and prompt set kept as its
config) holding one ``trace`` row; a prompt set read from a folder is stored as a new
``prompt_set`` candidate of that run. A solve that raises marks its run failed.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .graph import ConductorResult, ConductorSettings, OnStep, solve
from .promptset import PromptSet, load_prompt_set, store_prompt_set

if TYPE_CHECKING:
    from clade.archive.facade import Archive


@dataclass(frozen=True)
class PromptChoice:
    """The meta-expert prompt set of a solve and where it came from."""

    prompts: PromptSet
    candidate_id: str | None = None  # a stored prompt_set candidate
    folder: Path | None = None  # a folder of <field>.j2 files, stored when the run starts


@dataclass(frozen=True)
class Solved:
    """A recorded solve: the conductor's result, its run and its trace."""

    result: ConductorResult
    run_id: str
    trace_id: str
    prompt_id: str | None


def choose_prompt_set(archive: Archive, ref: str | None) -> PromptChoice:
    """The prompt set ``ref`` names: a folder, a stored candidate's id (or prefix), or None
    for the default one."""
    if ref and Path(ref).is_dir():
        return PromptChoice(PromptSet.from_folder(Path(ref)), folder=Path(ref))
    if ref:
        candidate_id = archive.resolve_id(ref, table="candidate")
        return PromptChoice(load_prompt_set(archive, candidate_id), candidate_id=candidate_id)
    return PromptChoice(PromptSet.default())


def solve_recorded(
    archive: Archive,
    question: str,
    roles: dict[str, str],
    choice: PromptChoice,
    *,
    settings: ConductorSettings | None = None,
    python: bool = True,
    on_step: OnStep | None = None,
) -> Solved:
    """Answer ``question`` with the conductor, recording the run, its model calls and the
    trace in ``archive``. ``roles`` maps ``conductor`` (and optionally ``expert``) to a model;
    with ``python``, Expert Python runs code in a network-less Docker sandbox."""
    settings = settings or ConductorSettings()
    roles = {"expert": roles["conductor"], **roles}
    run_id = archive.create_run(
        name=question[:60], kind="conductor",
        config={"models": roles, "settings": settings.model_dump(), "python": python,
                "prompt_set": choice.candidate_id or (str(choice.folder) if choice.folder else None)},
    ).id  # fmt: skip
    prompt_id = choice.candidate_id
    if choice.folder is not None:
        prompt_id = store_prompt_set(archive, choice.prompts, run_id=run_id)
    try:
        result = _conduct(archive, run_id, question, roles, settings, choice.prompts, prompt_id,
                          python, on_step)  # fmt: skip
    except BaseException:
        archive.finish_run(run_id, status="failed")
        raise
    trace_id = archive.record_trace(
        "conductor", question, result.steps, answer=result.answer, run_id=run_id,
        candidate_id=prompt_id, calls=result.calls, tokens=result.tokens,
        meta={"rounds": result.rounds, "models": roles, "structured": settings.structured},
    )  # fmt: skip
    archive.finish_run(run_id)
    return Solved(result, run_id, trace_id, prompt_id)


def _conduct(
    archive: Archive, run_id: str, question: str, roles: dict[str, str],
    settings: ConductorSettings, prompts: PromptSet, prompt_id: str | None, python: bool,
    on_step: OnStep | None,
) -> ConductorResult:  # fmt: skip
    from clade.orchestrator.models.layer import ModelLayer
    from clade.orchestrator.models.metering import ArchiveSink
    from clade.orchestrator.models.spec import ModelsConfig

    from .python_expert import SandboxPython

    # Bare names validate as specs with default sampling; unknown roles are refused.
    models = ModelsConfig.model_validate({"default": roles["conductor"], "roles": roles})
    layer = ModelLayer(models, sink=ArchiveSink(archive), run_id=run_id)
    with ExitStack() as stack:
        expert = stack.enter_context(SandboxPython(run_id=run_id)) if python else None
        try:
            return solve(
                question, layer, python=expert, settings=settings, prompts=prompts,
                run_id=run_id, candidate_id=prompt_id, on_step=on_step,
            )  # fmt: skip
        finally:
            layer.close()
