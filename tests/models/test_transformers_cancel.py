"""The transformers engine drops a cancelled row at its next token; the rest of its batch
goes on, and its speed is measured."""

from __future__ import annotations

import time

import pytest

from clade.orchestrator.models.embedded import gguf_path
from clade.orchestrator.models.engine import SamplingParams

pytestmark = pytest.mark.slow

LONG = 48


def test_a_cancelled_row_stops_while_its_batch_goes_on():
    from clade.orchestrator.models.transformers_engine import load_engine

    engine = load_engine(str(gguf_path()), batch_window_ms=200)
    try:
        story = [{"role": "user", "content": "Tell me a long story about a dragon."}]
        params = SamplingParams(max_tokens=LONG, temperature=0.0)
        kept = engine.submit(story, params)
        dropped = engine.submit(story, params)  # the same batch (greedy, within the window)
        dropped.admitted.result(timeout=120)
        time.sleep(0.3)  # a few tokens in
        assert dropped.cancel()
        finished = kept.result(timeout=300)
        assert finished.completion_tokens == LONG  # its neighbour's cancellation changed nothing
        stats = engine.stats.snapshot()
        assert stats["requests"] == 2 and stats["cancelled"] == 1
        assert stats["tokens_generated"] < 2 * LONG  # the cancelled row stopped early
        assert engine.abandoned_tokens == 0
        assert engine.speed.tokens_per_s is not None and engine.speed.tokens_per_s > 0
    finally:
        engine.close()
