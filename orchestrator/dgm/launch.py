"""Start or resume a self-improvement run: wire the archive, models, sandboxes and graph.

From Python: ``run_id = create_run(archive, load_config(path))``, then
``execute(archive, run_config(archive, run_id), run_id, resume=False, emit=print)``.

The archive is the record; the LangGraph checkpointer (``checkpoints.py``: SQLite beside a
SQLite archive, PostgreSQL beside a PostgreSQL one) is where the graph stands. ``resume`` re-invokes the
graph with the run's id as its thread and no input, which continues after the last
finished step.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from typing import Any

from clade.archive.errors import ConfigError
from clade.archive.facade import Archive
from clade.orchestrator.config import settings

from .checkpoints import checkpointer, explain
from .config import RunConfig
from .graph import DGMRun, build_graph
from .patience import patient
from .pool import recursion_limit
from .protocol import Emit, Steps


def create_run(
    archive: Archive, config: RunConfig, *, name: str = "", approve: bool = False
) -> str:
    """Record a new self-improvement run of ``config`` (``approve`` kept with it, so a resumed
    run asks too); returns its id, for :func:`execute`."""
    if approve:
        config = config.model_copy(update={"approve": True})
    record = archive.create_run(
        name=name or config.name, kind="dgm", config=config.model_dump(mode="json")
    )
    return record.id


def run_config(archive: Archive, run_id: str, *, approve: bool = False) -> RunConfig:
    """The config ``run_id`` started with; ``approve`` turns approval on from now on (kept)."""
    config = RunConfig.model_validate(archive.get_run(run_id).config)
    if approve and not config.approve:
        config = config.model_copy(update={"approve": True})
        archive.set_run_config(run_id, config.model_dump(mode="json"))
    return config


def real_steps(archive: Archive, run_id: str, config: RunConfig, evaluator: Any) -> Steps:
    """Steps backed by the model layer (metered into the archive) and Docker sandboxes."""
    from clade.orchestrator.models.gateway import Gateway
    from clade.orchestrator.models.layer import ModelLayer
    from clade.orchestrator.models.metering import ArchiveSink, Budget
    from clade.orchestrator.models.routing import size_slots
    from clade.sandbox import SandboxConfig

    from .steps import SandboxSteps

    # Each sandbox works with one call at a time; diagnosis may add one more.
    models = size_slots(config.models, config.parallelism + 1)
    layer = ModelLayer(models, sink=ArchiveSink(archive), run_id=run_id)
    tracker = layer.set_budget(
        run_id, Budget(max_tokens=config.budget.max_tokens, max_usd=config.budget.max_usd)
    )
    tracker.tokens, tracker.usd = archive.run_usage(run_id)  # what earlier sessions spent
    factory, image = _sandbox_backend(config)
    sandbox_config = SandboxConfig(
        image=image, memory_mb=config.sandbox.memory_mb, cpus=config.sandbox.cpus
    )
    return SandboxSteps(
        archive, run_id, evaluator, Gateway(layer), factory, sandbox_config,
        config.agent_limits, config.parallelism, config.agent,
        run_seed=config.seed, sampling=config.sampling, editable=config.improvement.editable,
    )  # fmt: skip


def _sandbox_backend(config: RunConfig) -> tuple[Any, str]:
    """The sandbox class and image of a run; builds the agent image when it is out of date."""
    from clade.sandbox import DockerSandbox, LocalSandbox

    if config.sandbox.backend == "local":
        return LocalSandbox, ""
    _prune_dead_sandboxes()
    if config.sandbox.image:
        return DockerSandbox, config.sandbox.image
    from clade.orchestrator.evaluators.runner import agent_image

    return DockerSandbox, agent_image()


def _prune_dead_sandboxes() -> None:
    """Remove containers left by killed Clade processes (a resumed run's among them)."""
    from clade.sandbox.docker_backend import docker_client
    from clade.sandbox.owner import prune

    client = docker_client()
    try:
        prune(client)
    finally:
        client.close()


def execute(
    archive: Archive,
    config: RunConfig,
    run_id: str,
    *,
    resume: bool,
    emit: Emit,
    steps_factory: Callable[[Archive, str, RunConfig, Any], Steps] = real_steps,
    approve: Callable[[dict[str, Any]], bool] | None = None,
) -> None:
    """Run (or resume) ``run_id`` to its end; every step is saved as it finishes.

    With ``approve``, each child's diff is shown to it before evaluation (the graph pauses
    at a LangGraph interrupt; children waiting together are answered together)."""
    from clade.orchestrator.evaluators.registry import load_evaluator
    from clade.orchestrator.models import gateway_loop
    from clade.sandbox.sockets import prune_socket_dirs

    if config.approve and approve is None:
        raise ConfigError(
            "this run asks before evaluating each child (approve: true)",
            hint="run it from a terminal with `clade run`, or pass an approve callback",
        )
    prune_socket_dirs()  # what killed Clade processes left (a resumed run's among them)
    evaluator = load_evaluator(config.evaluation.evaluator, **config.evaluation.options)
    on_ray = config.execution.backend == "ray"
    if on_ray:  # seed and child become Ray tasks; their steps are built on the workers
        from .distributed import attach, on_workers

        steps = on_workers()
    else:
        steps = steps_factory(archive, run_id, config, evaluator)
    created = archive.get_run(run_id).created_at
    started = (created if created.tzinfo else created.replace(tzinfo=UTC)).timestamp()
    dgm = DGMRun(
        archive, config, evaluator, steps, started=started, emit=emit, approve=approve is not None
    )
    if on_ray:
        attach(dgm, run_id, steps_factory, config.execution)
    # A step the machine cut short (engine restarted, database away) waits and runs again
    # (on Ray, the worker waits for its own engine; here only for the archive).
    docker = config.sandbox.backend == "docker" and not on_ray
    for name in ("seed", "child"):
        wrapped = patient(
            getattr(dgm, name), docker=docker, emit=emit, stopping=lambda: archive.stopping
        )
        setattr(dgm, name, wrapped)
    try:
        with checkpointer(settings().archive_url, settings().home) as saver:
            graph = build_graph(dgm, saver)
            graph_config = {
                "configurable": {"thread_id": run_id},
                "max_concurrency": config.parallelism,
                "recursion_limit": recursion_limit(config),  # sync or async graph
            }
            answer_interrupts(graph, None if resume else {"run_id": run_id}, graph_config, approve)
    except Exception as exc:
        explained = explain(exc)
        if explained is exc:
            raise
        raise explained from exc
    finally:
        gateway_loop.shutdown()  # litellm's worker ends with its loop: no task left pending


def answer_interrupts(
    graph: Any,
    first_input: Any,
    graph_config: Any,
    approve: Callable[[dict[str, Any]], bool] | None,
) -> Any:
    """Invoke ``graph``; while it pauses for approvals, ask ``approve`` and resume."""
    from langgraph.types import Command

    result = graph.invoke(first_input, graph_config, durability="sync")
    while approve is not None and result.get("__interrupt__"):
        answers = {pending.id: approve(pending.value) for pending in result["__interrupt__"]}
        result = graph.invoke(Command(resume=answers), graph_config, durability="sync")
    return result
