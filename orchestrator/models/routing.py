"""Model names: aliases, which engine serves a local model, and the engine cache.

``resolve_model("smollm2-135m")`` gives ``transformers/<gguf>`` or ``llamacpp/<gguf>``
according to ``settings().local_backend``. :func:`get_engine` loads each (engine, path,
options) once per process and shares it; loading is serialised per key, so two threads
asking for the same model wait for one load.
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import logging
import threading
from typing import TYPE_CHECKING, Any

from clade.orchestrator.config import settings
from clade.orchestrator.errors import SetupError
from clade.orchestrator.models.embedded import EMBEDDED_ALIAS, gguf_path
from clade.orchestrator.models.engine import LocalEngine
from clade.orchestrator.models.errors import UnknownModel

if TYPE_CHECKING:
    from clade.orchestrator.models.spec import ModelsConfig, ModelSpec

log = logging.getLogger(__name__)

LOCAL_PROVIDERS = ("transformers", "llamacpp")
CUSTOM_PROVIDERS = (*LOCAL_PROVIDERS, "scripted")


def _cuda_available() -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


def local_backend() -> str:
    """The engine that serves local GGUF models here: "transformers" or "llamacpp"."""
    choice = settings().local_backend
    if choice != "auto":
        return choice
    if importlib.util.find_spec("xllamacpp") is not None and not _cuda_available():
        return "llamacpp"
    return "transformers"


def resolve_model(name: str) -> str:
    """The litellm name of ``name``: aliases become ``<engine>/<path>``; others are unchanged."""
    if name == EMBEDDED_ALIAS:
        return f"{local_backend()}/{gguf_path()}"
    return name


def local_engine(name: str) -> str | None:
    """The local engine that serves model ``name`` ("transformers" or "llamacpp"), or None
    for an API or scripted model. Local engines honour a ``response_format`` JSON schema as
    a decoding grammar (llama.cpp) and take ``engine_options``."""
    provider = resolve_model(name).split("/", 1)[0]
    return provider if provider in LOCAL_PROVIDERS else None


_lock = threading.Lock()
_engines: dict[str, LocalEngine] = {}
_key_locks: dict[str, threading.Lock] = {}


TRANSFORMERS_HINT = (
    "install the transformers backend: pip install torch==2.13.0 'clade-agents[local]' "
    "(or run `make setup`), or serve GGUF models with llama.cpp: pip install "
    "'clade-agents[llamacpp]'"
)
TRANSFORMERS_NEEDS: tuple[str, ...] = ("torch", "transformers")


def _missing(modules: tuple[str, ...]) -> list[str]:
    return [name for name in modules if importlib.util.find_spec(name) is None]


def _load(provider: str, path: str, options: dict[str, Any]) -> LocalEngine:
    """Load an engine; a missing or broken optional dependency is a :class:`SetupError`
    with the install hint (never a fault the layer would retry)."""
    if provider == "transformers":
        needs = TRANSFORMERS_NEEDS + (("gguf", "accelerate") if path.endswith(".gguf") else ())
        missing = _missing(needs)
        if missing:
            raise SetupError(
                f"the transformers backend needs {' and '.join(missing)}, not installed",
                hint=TRANSFORMERS_HINT,
            )
        try:
            from clade.orchestrator.models.transformers_engine import load_engine
        except ImportError as exc:
            raise SetupError(
                f"the transformers backend cannot be imported: {exc}", hint=TRANSFORMERS_HINT
            ) from None
        return load_engine(path, **options)
    if provider == "llamacpp":
        from clade.orchestrator.models import llamacpp  # imported lazily

        engine: LocalEngine = llamacpp.load_engine(path, **options)
        return engine
    raise UnknownModel(
        f"no local engine {provider!r}", hint=f"use one of {', '.join(LOCAL_PROVIDERS)}"
    )


def size_slots(models: ModelsConfig, streams: int) -> ModelsConfig:
    """``models`` with every llama.cpp spec given at least ``streams`` parallel slots.

    A run with more concurrent sandboxes than llama.cpp's default 4 slots would queue their
    calls. Every spec on llama.cpp that does not set ``n_parallel`` itself gets the same
    value, so roles sharing one GGUF model still share one engine.
    """
    from clade.orchestrator.models.llamacpp import LlamaCppOptions

    default_slots = LlamaCppOptions.model_fields["n_parallel"].default
    if streams <= default_slots:
        return models

    def sized(spec: ModelSpec) -> ModelSpec:
        if local_engine(spec.model) != "llamacpp" or "n_parallel" in spec.engine_options:
            return spec
        return spec.model_copy(
            update={"engine_options": {**spec.engine_options, "n_parallel": streams}}
        )

    return models.model_copy(
        update={
            "default": sized(models.default),
            "roles": {role: sized(spec) for role, spec in models.roles.items()},
        }
    )


def get_engine(provider: str, path: str, options: dict[str, Any] | None = None) -> LocalEngine:
    """The shared engine for ``provider/path`` with ``options``, loaded on first use."""
    opts = dict(options or {})
    key = json.dumps([provider, path, opts], sort_keys=True, default=str)
    with _lock:
        engine = _engines.get(key)
        if engine is not None:
            return engine
        key_lock = _key_locks.setdefault(key, threading.Lock())
    with key_lock:
        with _lock:
            engine = _engines.get(key)
        if engine is None:
            if provider == "llamacpp" and any(k.startswith('["llamacpp"') for k in _engines):
                log.warning(
                    "loading a second llama.cpp engine (%s); two in one process run at about "
                    "half speed each: give the roles one GGUF model with the same "
                    "engine_options where you can",
                    path,
                )
            engine = _load(provider, path, opts)
            with _lock:
                if not _engines:  # engines stop their threads before the interpreter ends
                    atexit.unregister(_close_at_exit)
                    atexit.register(_close_at_exit)
                _engines[key] = engine
    return engine


def find_engine(provider: str, path: str, options: dict[str, Any] | None = None) -> Any:
    """The engine :func:`get_engine` would return, if it is loaded already (never loads)."""
    key = json.dumps([provider, path, dict(options or {})], sort_keys=True, default=str)
    with _lock:
        return _engines.get(key)


def abandoned_tokens() -> int:
    """Tokens the loaded engines generated for callers that had gone, since they loaded."""
    return sum(int(getattr(engine, "abandoned_tokens", 0)) for engine in loaded_engines())


def loaded_engines() -> list[LocalEngine]:
    with _lock:
        return list(_engines.values())


#: At process exit, how long engines get to stop what they were generating.
EXIT_WAIT_S = 10.0


def close_engines(wait_s: float = 0.0) -> None:
    """Close and forget every loaded engine (tests, shutdown). With ``wait_s``, requests in
    flight are cancelled and given that long to stop."""
    with _lock:
        engines = list(_engines.values())
        _engines.clear()
    for engine in engines:
        engine.close(wait_s=wait_s)


def _close_at_exit() -> None:
    close_engines(wait_s=EXIT_WAIT_S)
