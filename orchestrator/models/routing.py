"""Model names: aliases, which engine serves a local model, and the engine cache.

``resolve_model("smollm2-135m")`` gives ``transformers/<gguf>`` or ``llamacpp/<gguf>``
according to ``settings().local_backend``. :func:`get_engine` loads each (engine, path,
options) once per process and shares it; loading is serialised per key, so two threads
asking for the same model wait for one load.
"""

from __future__ import annotations

import importlib.util
import json
import threading
from typing import Any

from clade.orchestrator.config import settings
from clade.orchestrator.models.embedded import EMBEDDED_ALIAS, gguf_path
from clade.orchestrator.models.engine import LocalEngine
from clade.orchestrator.models.errors import UnknownModel

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


_lock = threading.Lock()
_engines: dict[str, LocalEngine] = {}
_key_locks: dict[str, threading.Lock] = {}


def _load(provider: str, path: str, options: dict[str, Any]) -> LocalEngine:
    if provider == "transformers":
        from clade.orchestrator.models.transformers_engine import load_engine

        return load_engine(path, **options)
    if provider == "llamacpp":
        from clade.orchestrator.models import llamacpp  # written separately; imported lazily

        engine: LocalEngine = llamacpp.load_engine(path, **options)
        return engine
    raise UnknownModel(
        f"no local engine {provider!r}", hint=f"use one of {', '.join(LOCAL_PROVIDERS)}"
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
            engine = _load(provider, path, opts)
            with _lock:
                _engines[key] = engine
    return engine


def loaded_engines() -> list[LocalEngine]:
    with _lock:
        return list(_engines.values())


def close_engines() -> None:
    """Close and forget every loaded engine (tests, shutdown)."""
    with _lock:
        engines = list(_engines.values())
        _engines.clear()
    for engine in engines:
        engine.close()
