"""Children (and the seed) as Ray tasks on the nodes of a Ray cluster (``execution: ray``).

The orchestrator keeps the graph, its checkpointer and the steps that read the whole
archive (``plan``, ``finish``). :func:`attach` turns a run's ``seed`` and ``child`` into Ray
tasks: whoever calls ``DGMRun.child`` (the synchronous graph, or any other loop) then
submits :func:`node_on_worker` and waits for it. The worker opens the archive by its URL,
reads the run's config from it, and builds the evaluator and the steps itself: its own
Docker engine, gateway and model layer, with API keys from the worker host's environment
(never entering a sandbox); model calls are metered to the run in the archive as on one
host. It runs the same idempotent ``DGMRun.child`` and returns only small data (the node's
result, its events, a portable Clade error).

A child is idempotent by its key (``g1c0``): found again if made, evaluations already
recorded never redone (an evaluation's primary key is (candidate, evaluator, split, task,
attempt)). So when a worker or its node dies, Ray runs the task again elsewhere
(``max_retries``) and nothing is lost or evaluated twice; a resumed orchestrator connects
again and LangGraph resubmits the children that were in flight.

The workers must open the same archive: PostgreSQL across hosts; with SQLite (a cluster
on one host) they share its file. Blobs (trees, logs) travel by content hash
(``execution.blobs: shipped``, the default): a :class:`BlobDepot` actor on the
orchestrator's node serves its blob folder, and each worker's blob folder is a cache of it
(``clade.archive.blobs.Upstream``): what a worker lacks it fetches by hash, checked; what it
writes it sends before any row names it. With ``shared`` every node uses the orchestrator's
folder at the same path (docs/SCALING.md). The seed's tree is made on the worker that evaluates it, from the
same Clade install (or the run's ``agent`` folder, which must exist on the workers).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from clade.archive.errors import CladeError, ConfigError, InfrastructureError, RunStopped
from clade.archive.facade import Archive
from clade.orchestrator.errors import SetupError

from .config import RunConfig
from .execution import ExecutionOptions
from .graph import DGMRun
from .patience import patient
from .protocol import Steps

StepsFactory = Callable[[Archive, str, RunConfig, Any], Steps]
RAY_HINT = "pip install 'clade-agents[ray]' (Ray 2.50 or newer)"
CLUSTER_HINT = (
    "start one: ray start --head --resources '{\"docker\": 1}' (docs/SCALING.md), "
    "or set execution.address"
)
#: Seconds between checks, while a task runs, of whether the run is stopping.
POLL_S = 0.5


def ray_module() -> Any:
    """The ``ray`` package, or a SetupError with the install hint."""
    try:
        import ray
    except ImportError as exc:
        missing = isinstance(exc, ModuleNotFoundError) and exc.name in {"ray", None}
        why = "is not installed" if missing else f"cannot be imported: {exc}"
        raise SetupError(
            f"execution.backend ray needs Ray: module 'ray' {why}", hint=RAY_HINT
        ) from None
    return ray


def connect(execution: ExecutionOptions) -> Any:
    """Join the cluster at ``execution.address`` (once per process; a resumed orchestrator
    joins again) and check that some node has the resources one child holds."""
    ray = ray_module()
    if not ray.is_initialized():
        try:
            ray.init(
                address=execution.address,
                ignore_reinit_error=True,
                log_to_driver=False,
                configure_logging=False,
            )
        except (ConnectionError, RuntimeError, ValueError) as exc:
            first = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
            raise SetupError(
                f"no Ray cluster at {execution.address}: {first}", hint=CLUSTER_HINT
            ) from None
    need = {"CPU": execution.cpus, "docker": execution.docker}
    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    if not any(all(r.get(k, 0.0) >= v for k, v in need.items() if v > 0) for r in nodes):
        raise SetupError(
            f"no node of the Ray cluster at {execution.address} has {execution.cpus:g} CPU(s) "
            f"and {execution.docker:g} docker unit(s) for a child",
            hint="start workers with --num-cpus and --resources '{\"docker\": 1}' "
            "(docs/SCALING.md), or lower execution.cpus / execution.docker",
        )
    return ray


def shared_url(url: str) -> str:
    """``url`` as a worker on this host can open it: a SQLite path made absolute."""
    if not url.startswith("sqlite:"):
        return url
    path, sep, query = url.removeprefix("sqlite:///").partition("?")
    if not url.startswith("sqlite:///") or path in {"", ":memory:"}:
        raise ConfigError(
            "execution.backend ray needs an archive the workers can open, not an in-memory one",
            hint="set CLADE_DB_URL to PostgreSQL, or use a SQLite file (docs/SCALING.md)",
        )
    return f"sqlite:///{Path(path).resolve()}{sep}{query}"


def attach(
    dgm: DGMRun, run_id: str, steps_factory: StepsFactory, execution: ExecutionOptions
) -> None:
    """Make ``dgm.seed`` and ``dgm.child`` Ray tasks that run ``steps_factory``'s steps on
    the cluster's workers (``steps_factory`` travels by reference: a module-level one)."""
    if dgm.approve:
        raise ConfigError(
            "approving each child works with execution.backend local only",
            hint="drop --approve, or set execution.backend=local",
        )
    ray = connect(execution)
    url, root = shared_url(dgm.archive.url), str(dgm.archive.blobs.root.resolve())
    blobs: Any = root if execution.blobs == "shared" else (depot(ray, root), root)
    remote = ray.remote(node_on_worker).options(
        num_cpus=execution.cpus,
        resources={"docker": execution.docker} if execution.docker > 0 else {},
        max_retries=execution.max_retries,
        retry_exceptions=False,  # a Clade error is an answer, not a lost worker
    )

    def submit(node: str, payload: Any, key: str) -> Any:
        ref = remote.remote(url, blobs, run_id, node, payload, steps_factory)
        reply = _wait(ray, ref, dgm.archive, key)
        for event in reply["events"]:
            dgm.emit(event)
        dgm.emit({"event": "placed", "key": key, "node": reply["node"]})
        if reply["error"] is not None:
            raise rebuilt(reply["error"])
        return reply["result"]

    def seed(state: Any) -> Any:
        return submit("seed", state, "seed")

    def child(task: Any) -> Any:
        return submit("child", task, task.get("key") or f"g{task['generation']}c{task['index']}")

    setattr(dgm, "seed", seed)  # noqa: B010  # instance attributes over the methods
    setattr(dgm, "child", child)  # noqa: B010


def _wait(ray: Any, ref: Any, archive: Archive, key: str) -> dict[str, Any]:
    """The task's reply; cancelled when the run stops; a task Ray gave up on (its node
    lost more than ``max_retries`` times) is the machine's failure, never a verdict."""
    while not ray.wait([ref], timeout=POLL_S)[0]:
        if archive.stopping:
            ray.cancel(ref, force=True)
            raise RunStopped(f"{key} cancelled on its Ray worker: the run is stopping")
    try:
        reply: dict[str, Any] = ray.get(ref)
    except ray.exceptions.RayTaskError:
        raise  # a bug on the worker: its own traceback
    except ray.exceptions.RayError as exc:
        first = (str(exc).splitlines() or [""])[0][:200]
        raise InfrastructureError(
            f"{key}'s Ray task was lost: {type(exc).__name__}: {first}",
            hint="resume with `clade run --resume RUN` once the cluster has workers",
        ) from None
    return reply


class BlobDepot:
    """A Ray actor on the orchestrator's node that serves its blob folder to the workers."""

    def __init__(self, root: str) -> None:
        from clade.archive.blobs import BlobStore

        self.store = BlobStore(Path(root))

    def fetch(self, digest: str, kind: str) -> bytes | None:
        return self.store.get(digest, kind) if self.store.has(digest, kind) else None

    def publish(self, digest: str, kind: str, data: bytes) -> None:
        if self.store.put(data, kind) != digest:
            raise ValueError(f"blob {digest[:12]} sent with other content")


def depot(ray: Any, root: str) -> Any:
    """A :class:`BlobDepot` over ``root``, placed on this (the orchestrator's) node."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    return ray.remote(BlobDepot).options(num_cpus=0, scheduling_strategy=here).remote(root)


class _DepotUpstream:
    """A worker's view of the orchestrator's blobs (``clade.archive.blobs.Upstream``)."""

    def __init__(self, actor: Any) -> None:
        self.actor = actor

    def _call(self, method: Any, *args: Any) -> Any:
        import ray

        try:
            return ray.get(method.remote(*args), timeout=120)
        except (ray.exceptions.RayError, TimeoutError) as exc:
            raise InfrastructureError(
                f"the orchestrator's blob store did not answer: {type(exc).__name__}",
                hint="resume with `clade run --resume RUN` once the orchestrator is back",
            ) from None

    def fetch(self, digest: str, kind: str) -> bytes | None:
        found: bytes | None = self._call(self.actor.fetch, digest, kind)
        return found

    def publish(self, digest: str, kind: str, data: bytes) -> None:
        self._call(self.actor.publish, digest, kind, data)


def worker_archive(url: str, blobs: Any) -> Archive:
    """The archive as a worker opens it: the orchestrator's blob folder (``shared``), or a
    cache of this host's of the orchestrator's :class:`BlobDepot` (``shipped``)."""
    if isinstance(blobs, str):
        return Archive(url, blobs)
    import hashlib
    import tempfile

    actor, root = blobs  # a cache per (archive, orchestrator's blob folder)
    name = hashlib.sha256(f"{url}\n{root}".encode()).hexdigest()[:16]
    cache = Path(tempfile.gettempdir()) / "clade-worker-blobs" / name
    return Archive(url, cache, blob_upstream=_DepotUpstream(actor))


def node_on_worker(
    url: str, blobs: Any, run_id: str, node: str, payload: Any, steps_factory: StepsFactory
) -> dict[str, Any]:
    """A Ray task: run ``DGMRun.<node>(payload)`` on this worker, with its own steps
    (``blobs``: the orchestrator's blob folder, or its :class:`BlobDepot` and that folder)."""
    import ray

    from clade.orchestrator.evaluators.registry import load_evaluator
    from clade.sandbox.sockets import prune_socket_dirs

    events: list[dict[str, Any]] = []
    reply: dict[str, Any] = {
        "result": None,
        "events": events,
        "error": None,
        "node": ray.get_runtime_context().get_node_id(),
    }
    prune_socket_dirs()  # what killed workers on this host left
    archive = worker_archive(url, blobs)
    try:
        config = RunConfig.model_validate(archive.get_run(run_id).config)
        evaluator = load_evaluator(config.evaluation.evaluator, **config.evaluation.options)
        steps = steps_factory(archive, run_id, config, evaluator)
        dgm = DGMRun(archive, config, evaluator, steps, emit=events.append)
        docker = config.sandbox.backend == "docker"  # this node's engine, waited for here
        reply["result"] = patient(getattr(dgm, node), docker=docker, emit=events.append)(payload)
    except CladeError as exc:
        reply["error"] = portable(exc)
    finally:
        archive.close()
    return reply


def portable(exc: CladeError) -> dict[str, str | None]:
    """A Clade error as plain data (its class by import path, its message and hint)."""
    kind = type(exc)
    return {
        "kind": f"{kind.__module__}:{kind.__qualname__}",
        "message": getattr(exc, "message", str(exc)),
        "hint": getattr(exc, "hint", None),
    }


def rebuilt(error: dict[str, str | None]) -> CladeError:
    """The Clade error :func:`portable` described, of the same class where it imports (an
    InfrastructureError stays one, so ``patient`` treats it as on one host)."""
    module, _, name = str(error["kind"]).partition(":")
    kind: type[CladeError] = CladeError
    try:
        found = getattr(importlib.import_module(module), name)
        if isinstance(found, type) and issubclass(found, CladeError):
            kind = found
    except (ImportError, AttributeError):
        pass
    exc = kind.__new__(kind)
    CladeError.__init__(exc, str(error["message"]), hint=error["hint"])
    return exc


def on_workers() -> Steps:
    """The orchestrator's steps under Ray: every step runs on a worker, none here."""
    return cast(Steps, _OnWorkers())


class _OnWorkers:
    """The orchestrator's steps under Ray: every step runs on a worker, none here."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"steps.{name} runs on the Ray workers (execution.backend ray)")
