"""The YAML config of ``clade run`` (pydantic-validated; every option documented).

See ``examples/run.yaml`` for a complete file. ``--set key.sub=value`` overrides any
field with a YAML-parsed value.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from clade.archive.errors import ConfigError
from clade.orchestrator.evaluators.base import Split
from clade.orchestrator.evaluators.runner import AgentLimits
from clade.orchestrator.models.spec import ModelsConfig

from .admission import ScoreRule
from .execution import ExecutionOptions
from .sampling import ChildSampling
from .selection import PolicyName


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Stage(_Strict):
    """One stage of staged evaluation: run ``tasks`` tasks; go on only if the score clears ``threshold``."""

    tasks: int = Field(ge=1, description="Tasks in this stage (a prefix of the evaluator's split).")
    threshold: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Share of this stage's tasks to solve before the next stage runs.",
    )


class EvaluationConfig(_Strict):
    evaluator: str = Field(
        default="humaneval", description="Evaluator name or import path (module:Class)."
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="Options for the evaluator's constructor."
    )
    split: Split = Field(
        default="dev", description="Split that selection sees (the test split stays held out)."
    )
    stages: list[Stage] = Field(
        default_factory=lambda: [Stage(tasks=10, threshold=0.4), Stage(tasks=50)],
        min_length=1,
        description="Staged evaluation, as in the Darwin Gödel Machine: a small stage, then a larger one.",
    )
    attempts: int = Field(
        default=1,
        ge=1,
        le=16,
        description="Sampled attempts per task of the split; each is recorded (attempt 0, 1, "
        "...) and a candidate's score is the mean over all of them. Attempts differ only when "
        "the agent samples: give the agent role a temperature above 0.",
    )


class SelectionConfig(_Strict):
    policy: PolicyName = Field(default="score_child_prop", description="How parents are chosen.")
    children_per_generation: int = Field(
        default=2, ge=1, description="Children made per generation."
    )
    keep_better: bool = Field(
        default=False,
        description="Admit a child only if it beats its parent: its score (see `score`) "
        "is above the parent's mean.",
    )
    score: ScoreRule = Field(
        default="mean",
        description="A candidate's score for selection, admission and the run's best: the "
        "mean over its evaluations, or lower_bound, the lower end of its Wilson interval, so "
        "a child lucky on few tasks does not outrank a parent good on many.",
    )
    confidence: float = Field(
        default=0.9, gt=0.5, lt=1.0, description="Confidence level of the lower_bound interval."
    )
    admit: Literal["score", "validation"] = Field(
        default="score",
        description="score: a child is admitted by the rules above; validation: besides, "
        "only when the paired bootstrap lower bound (at `confidence`) of its gain over its "
        "parent is above 0 on the validation tasks: the `validation_tasks` dev tasks after "
        "the last stage's, which selection, diagnosis and mutation never see (recorded under "
        "the split `val`; see dgm/validation.py).",
    )
    validation_tasks: int = Field(
        default=20, ge=2, description="Validation tasks, with `admit: validation`."
    )


class ExperienceOptions(_Strict):
    """The experience mutation: a child gains the run's solved dev tasks as worked examples."""

    children: int = Field(
        default=0,
        ge=0,
        description="Children per generation made by the experience mutation whatever "
        "diagnosis proposes (the first ones of each generation); 0: only when diagnosis "
        "proposes it. Without a solved dev task yet, such a child is an ordinary edit.",
    )
    examples: int = Field(
        default=4, ge=1, le=32, description="Worked examples an agent carries at most."
    )
    max_chars: int = Field(
        default=8_000,
        ge=200,
        description="Characters of coder/experience.jsonl at most (the agent also fits the "
        "examples to its own context budget).",
    )


class SandboxOptions(_Strict):
    """Where agents run."""

    backend: Literal["docker", "local"] = Field(
        default="docker",
        description="docker (isolated), or local: subprocesses with no isolation (UNSAFE).",
    )
    image: str | None = Field(
        default=None, description="Agent image; default: the one `clade sandbox build` makes."
    )
    memory_mb: int = Field(default=2048, ge=64, description="Memory limit of each sandbox, MiB.")
    cpus: float = Field(default=2.0, gt=0, description="CPU limit of each sandbox, cores.")


class ReviewOptions(_Strict):
    """A judge reads each self-modification's diff before the child is evaluated."""

    enabled: bool = Field(
        default=False,
        description="Review each diff with fixed rules and the judge role's model, looking "
        "for changes that disable or game the evaluation (skipped tests, forced exits, ...).",
    )
    reject: bool = Field(
        default=True,
        description="Reject a flagged child without evaluating it; false only records the flag.",
    )


PromptField = Literal[
    "meta", "question", "expert", "python", "feedback", "reminder", "last_round", "round_label"
]
DEFAULT_FIELDS: tuple[PromptField, ...] = ("meta", "question", "feedback", "reminder")


class PromptSetOptions(_Strict):
    """A prompt-set run (``kind: prompt_set``, orchestrator/promptsets): a prompt set evolves
    instead of an agent. The conductor family: each task is solved by the conductor with the
    candidate set. The judge family: the candidate is a judge's meta-prompt, and each gold
    pair of the ``judge-gold`` evaluator is judged under it in both orders."""

    family: Literal["conductor", "judge"] = Field(
        default="conductor",
        description="conductor: the conductor's templates evolve; judge: a learning judge's "
        "meta-prompt (meta_prompt.md) evolves, scored by agreement with gold pairs.",
    )
    seed: Path | None = Field(
        default=None,
        description="Folder of the seed prompt set (<field>.j2 files; for the judge family "
        "meta_prompt.md); default: the shipped one.",
    )
    judge_method: Literal["lwe", "selective"] = Field(
        default="lwe",
        description="judge family: lwe (the rubric M writes decides every pair) or selective "
        "(the vanilla judge in both orders, M's rubric where they disagree).",
    )
    fields: list[PromptField] = Field(
        default_factory=lambda: list(DEFAULT_FIELDS),
        min_length=1,
        description="Templates the mutate role may rewrite, one per child (round robin by "
        "key); conductor family only.",
    )
    rounds: int = Field(default=3, ge=1, le=30, description="Conductor turns per task.")
    max_tokens: int | None = Field(
        default=None, ge=1, description="Tokens per conductor call; None: the role's spec."
    )
    structured: Literal["auto", "on", "off"] = Field(
        default="auto", description="Conductor turns as JSON under a grammar (see clade solve)."
    )
    python: bool = Field(
        default=False, description="Offer Expert Python (code runs in a Docker sandbox)."
    )
    failures: int = Field(
        default=3, ge=1, le=10, description="Failed dev tasks shown to the mutate role."
    )
    max_chars: int = Field(
        default=6000, ge=20, le=20_000, description="Characters of a rewritten template at most."
    )


class ImprovementOptions(_Strict):
    """How a parent makes its children: the improvement procedure (dgm/procedure.py)."""

    editable: bool = Field(
        default=False,
        description="Make the improvement procedure part of the agent's own tree, in meta/: "
        "the diagnosis prompt (meta/diagnose.j2), the self-improvement task "
        "(meta/self_improve.j2) and which failed tasks diagnosis is shown "
        "(meta/choose_failure.json). A child may rewrite them; its children are made with "
        "its version (recorded as meta.procedure). Off: the shipped prompts, as before.",
    )


class RunBudget(_Strict):
    """When the run stops; whichever is reached first. (The model layer enforces the token
    and dollar limits per call with a ``models.metering.Budget``.)"""

    generations: int = Field(default=3, ge=0, description="Generations after the seed.")
    max_tokens: int | None = Field(
        default=None, ge=1, description="Model tokens over the whole run."
    )
    max_usd: float | None = Field(default=None, gt=0, description="Dollars over the whole run.")
    max_hours: float | None = Field(default=None, gt=0, description="Wall time of the run.")


class RunConfig(_Strict):
    """Everything a self-improvement run needs."""

    name: str = Field(default="", description="A label for the run.")
    kind: Literal["agent", "prompt_set"] = Field(
        default="agent",
        description="What evolves: agent (coding agents that rewrite their own code) or "
        "prompt_set (the conductor's prompt set, rewritten by the mutate role; `prompt_set`).",
    )
    seed: int = Field(
        default=0,
        description="Seed of parent selection (runs are reproducible with the scripted model).",
    )
    agent: Path | None = Field(
        default=None, description="Folder of the seed agent; default: the built-in agents/coder."
    )
    models: ModelsConfig = Field(default_factory=ModelsConfig, description="Models per role.")
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    selection: SelectionConfig = Field(default_factory=SelectionConfig)
    agent_limits: AgentLimits = Field(default_factory=AgentLimits)
    sandbox: SandboxOptions = Field(default_factory=SandboxOptions)
    budget: RunBudget = Field(default_factory=RunBudget)
    review: ReviewOptions = Field(default_factory=ReviewOptions)
    experience: ExperienceOptions = Field(default_factory=ExperienceOptions)
    improvement: ImprovementOptions = Field(default_factory=ImprovementOptions)
    prompt_set: PromptSetOptions = Field(default_factory=PromptSetOptions)
    sampling: ChildSampling = Field(
        default_factory=ChildSampling,
        description="Temperature and seed of diagnosis and self-modification; the default "
        "seed (auto) is derived from the run's seed and each child's key, so children differ.",
    )
    loop: Literal["sync", "async"] = Field(
        default="sync",
        description="sync: generations, each waiting for all its children; async: no "
        "barrier, a parent is selected whenever a slot frees up (docs/SCALING.md).",
    )
    parallelism: int = Field(default=2, ge=1, le=16, description="Children worked on at once.")
    execution: ExecutionOptions = Field(
        default_factory=ExecutionOptions,
        description="Where children are worked on: this process, or a Ray cluster.",
    )
    approve: bool = Field(
        default=False,
        description="Show each child's diff and wait for a yes before evaluating it (`clade "
        "run --approve`); kept with the run, so a resumed run asks too.",
    )

    @model_validator(mode="after")
    def _stages_grow(self) -> RunConfig:
        sizes = [s.tasks for s in self.evaluation.stages]
        if sizes != sorted(sizes):
            raise ValueError(f"evaluation stages must not shrink: {sizes}")
        if self.approve and self.execution.backend == "ray":
            raise ValueError("approve works with execution.backend local only")
        if self.approve and self.loop == "async":
            raise ValueError("approve works with loop: sync only")
        return self


def _set(tree: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for key in parents:
        node = tree.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {dotted}: {key} is not a section")
        tree = node
    tree[leaf] = value


def load_config(path: Path | None, overrides: Sequence[str] = ()) -> RunConfig:
    """Read ``path`` (or the defaults), apply ``key=value`` overrides, validate."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path} is not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path} must hold a mapping of options")
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected key=value, e.g. budget.generations=2")
        _set(data, key.strip(), yaml.safe_load(raw))
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "config"
        raise ConfigError(
            f"{where}: {first['msg']}",
            hint=f"{exc.error_count()} problem(s); see examples/run.yaml",
        ) from None
