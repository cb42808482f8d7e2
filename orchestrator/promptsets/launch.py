"""Wire a prompt-set run: its model layer (metered into the archive) and its steps.

``clade run`` passes :func:`steps_factory` of the run's config to
:func:`clade.orchestrator.dgm.launch.execute`: a run of ``kind: prompt_set`` gets
:class:`~.steps.PromptSetSteps` (or :class:`~.judge.JudgePromptSteps` for
``prompt_set.family: judge``), any other the agents' sandboxed steps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from clade.archive.errors import ConfigError
from clade.orchestrator.dgm.launch import real_steps

from .judge import JudgePromptSteps
from .steps import PromptSetSteps

if TYPE_CHECKING:
    from clade.archive.facade import Archive
    from clade.orchestrator.dgm.config import RunConfig
    from clade.orchestrator.dgm.protocol import Steps

StepsFactory = Callable[["Archive", str, "RunConfig", Any], "Steps"]


def check_prompt_set_config(config: RunConfig, *, saved: bool = False) -> None:
    """Refuse options that mean nothing for prompt sets, with one line.

    An option of the other family counts as given when the user wrote it (the config's YAML
    and ``--set``), even at its default value. ``saved``: ``config`` is a run's stored
    config, which holds every field; an option then counts only when it is not its default
    (the exact check ran when the run was created)."""
    if config.kind != "prompt_set":
        return
    if config.experience.children:
        raise ConfigError(
            "experience.children: the experience mutation adds worked examples to an agent's "
            "code, and a prompt-set run evolves no code",
            hint="set experience.children to 0 for kind: prompt_set",
        )
    options = config.prompt_set
    given = (
        {
            name for name, info in type(options).model_fields.items()
            if getattr(options, name) != info.get_default(call_default_factory=True)
        }
        if saved
        else options.model_fields_set
    )  # fmt: skip
    if options.family == "judge":
        conductor_only = sorted({"fields", "rounds", "max_tokens", "structured", "python"} & given)
        if conductor_only:
            raise ConfigError(
                f"prompt_set.{conductor_only[0]}: a conductor option, and family judge evolves "
                "a judge's meta-prompt",
                hint="leave it out, or set prompt_set.family: conductor",
            )
    elif "judge_method" in given:
        raise ConfigError(
            "prompt_set.judge_method: an option of the judge family",
            hint="set prompt_set.family: judge, or leave judge_method out",
        )
    if config.prompt_set.seed is not None and not config.prompt_set.seed.is_dir():
        raise ConfigError(
            f"prompt_set.seed: {config.prompt_set.seed} is not a folder",
            hint="give a folder of <field>.j2 files (see docs/CONDUCTORS.md), or leave it out",
        )


def promptset_steps(archive: Archive, run_id: str, config: RunConfig, evaluator: Any) -> Steps:
    """Prompt-set steps backed by the model layer, metered into the archive."""
    from clade.orchestrator.models.layer import ModelLayer
    from clade.orchestrator.models.metering import ArchiveSink, Budget
    from clade.orchestrator.models.routing import size_slots

    check_prompt_set_config(config, saved=True)
    # Each child solves its tasks `parallelism` at a time; the mutate role may add one more.
    models = size_slots(config.models, config.parallelism * config.parallelism + 1)
    layer = ModelLayer(models, sink=ArchiveSink(archive), run_id=run_id)
    tracker = layer.set_budget(
        run_id, Budget(max_tokens=config.budget.max_tokens, max_usd=config.budget.max_usd)
    )
    tracker.tokens, tracker.usd = archive.run_usage(run_id)  # what earlier sessions spent
    family = JudgePromptSteps if config.prompt_set.family == "judge" else PromptSetSteps
    return family(
        archive, run_id, evaluator, layer, config.prompt_set,
        parallel=config.parallelism, run_seed=config.seed, sampling=config.sampling,
    )  # fmt: skip


def steps_factory(config: RunConfig) -> StepsFactory:
    """The steps of a run of ``config``'s kind."""
    return promptset_steps if config.kind == "prompt_set" else real_steps
