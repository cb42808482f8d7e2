"""`clade doctor --load`: load the embedded model through the model layer and time it."""

from __future__ import annotations

import time

from clade.orchestrator.models.embedded import EMBEDDED_ALIAS


def probe_embedded(max_tokens: int = 16) -> str:
    """Generate a few tokens with ``smollm2-135m`` via litellm; one line: engine, load time, tok/s."""
    from clade.orchestrator.models.layer import ModelLayer
    from clade.orchestrator.models.routing import loaded_engines, resolve_model
    from clade.orchestrator.models.spec import ModelsConfig, ModelSpec

    resolved = resolve_model(EMBEDDED_ALIAS)
    layer = ModelLayer(ModelsConfig(default=ModelSpec(model=EMBEDDED_ALIAS, max_tokens=max_tokens)))
    messages = [{"role": "user", "content": "Say hello in five words."}]
    start = time.perf_counter()
    layer.complete(messages, role="agent")  # loads the engine
    first = time.perf_counter() - start
    result = layer.complete(messages, role="agent")
    rate = result.completion_tokens / result.latency_s if result.latency_s > 0 else 0.0
    engine = next(
        (e.name for e in loaded_engines() if e.name.split("/", 1)[0] == resolved.split("/", 1)[0]),
        resolved,
    )
    return (
        f"engine {engine.split('/', 1)[0]}; first call (load) {first:.1f} s; "
        f"{result.completion_tokens} tokens at {rate:.1f} tok/s"
    )
