"""The model layer: one interface to API models (litellm) and local ones (transformers,
llama.cpp), with metering, budgets, record/replay and the sandbox gateway.

Importing it loads no heavy library (litellm, torch and the web server load on first use).
Start with :class:`ModelLayer` (``layer.complete(messages, role="judge")``, its options in
:class:`CallOptions`), :class:`ModelsConfig` for a run config's ``models:`` section, and
:class:`Gateway` to serve sandboxes.
"""

from __future__ import annotations

import os

from clade.orchestrator.models.cache import ResponseCache, request_hash
from clade.orchestrator.models.calls import ChatResult
from clade.orchestrator.models.errors import (
    BudgetExceeded,
    ModelCallFailed,
    ModelError,
    ReplayMiss,
    ScriptError,
    UnknownModel,
)
from clade.orchestrator.models.gateway import Gateway
from clade.orchestrator.models.gateway_request import GatewayLimits
from clade.orchestrator.models.layer import CallOptions, ModelLayer
from clade.orchestrator.models.metering import (
    Budget,
    BudgetTracker,
    CallRecord,
    JsonlSink,
    MemorySink,
    Sink,
    read_jsonl,
)
from clade.orchestrator.models.routing import get_engine, local_backend, resolve_model
from clade.orchestrator.models.scripted import Script, register_script
from clade.orchestrator.models.spec import (
    ROLES,
    CacheConfig,
    ModelsConfig,
    ModelSpec,
    Price,
    RetryPolicy,
    RoleName,
)

# litellm fetches its price map from the network at import unless told otherwise; Clade
# runs offline, so use the copy litellm ships (none of the modules above imports litellm).
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

__all__ = [
    "ROLES",
    "Budget",
    "BudgetExceeded",
    "BudgetTracker",
    "CacheConfig",
    "CallOptions",
    "CallRecord",
    "ChatResult",
    "Gateway",
    "GatewayLimits",
    "JsonlSink",
    "MemorySink",
    "ModelCallFailed",
    "ModelError",
    "ModelLayer",
    "ModelSpec",
    "ModelsConfig",
    "Price",
    "ReplayMiss",
    "ResponseCache",
    "RetryPolicy",
    "RoleName",
    "Script",
    "ScriptError",
    "Sink",
    "UnknownModel",
    "get_engine",
    "local_backend",
    "probe_embedded",
    "read_jsonl",
    "register_script",
    "request_hash",
    "resolve_model",
]


def probe_embedded() -> str:
    """Load ``smollm2-135m`` through the model layer, generate a few tokens; one-line summary."""
    from clade.orchestrator.models.probe import probe_embedded as probe

    return probe()
