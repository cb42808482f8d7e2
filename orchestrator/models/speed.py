"""How fast a local engine is right now, and the timeouts that follow from it.

A fixed timeout only holds on a quiet machine: on two cores shared with sandboxes and other
engines, a request that takes 6 s when idle can take 80. Each local engine keeps a
:class:`SpeedMeter`, a running estimate (exponentially weighted) of a request's prompt and
generation speed measured from its own finished requests, so it follows the load. The
model layer derives each local call's timeout from it: the time the call needs at the
measured speed (prompt tokens plus ``max_tokens``) times :data:`SAFETY`, never under
:data:`FLOOR_S`, counted from the moment the request gets a slot. A timeout means the
engine is slower than estimated: the estimate is halved, so a retry gets twice the time.
"""

from __future__ import annotations

import threading

#: Weight of the newest request in the running estimate.
ALPHA = 0.3
#: A derived timeout is this many times the time a call needs at the measured speed.
SAFETY = 3.0
#: No derived timeout is shorter than this (seconds).
FLOOR_S = 30.0
#: Timeout of a local call while the engine has no measured speed yet (its first calls).
UNMEASURED_TIMEOUT_S = 120.0
#: Prompt processing is assumed this many times faster than generation until measured.
PREFILL_OVER_DECODE = 4.0
#: Requests with fewer generated tokens say little about the generation speed.
MIN_DECODE_SAMPLE = 4


class SpeedMeter:
    """Running estimate of one engine's speed per request; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._prefill: float | None = None  # prompt tokens per second
        self._decode: float | None = None  # generated tokens per second
        self.samples = 0

    @staticmethod
    def _mix(old: float | None, new: float) -> float:
        return new if old is None else (1 - ALPHA) * old + ALPHA * new

    def observe(
        self, prompt_tokens: int, prompt_s: float, completion_tokens: int, decode_s: float
    ) -> None:
        """Feed one finished request: its prompt and generation tokens and their seconds."""
        with self._lock:
            if prompt_tokens > 0 and prompt_s > 0:
                self._prefill = self._mix(self._prefill, prompt_tokens / prompt_s)
            if completion_tokens >= MIN_DECODE_SAMPLE and decode_s > 0:
                self._decode = self._mix(self._decode, completion_tokens / decode_s)
                self.samples += 1

    def slow_down(self, factor: float = 2.0) -> None:
        """A request overran its derived timeout: assume the engine is ``factor`` slower."""
        with self._lock:
            if self._decode is not None:
                self._decode /= factor
            if self._prefill is not None:
                self._prefill /= factor

    @property
    def tokens_per_s(self) -> float | None:
        """Generated tokens per second of one request; None until measured."""
        with self._lock:
            return self._decode

    @property
    def prompt_tokens_per_s(self) -> float | None:
        with self._lock:
            return self._prefill

    def seconds_for(self, prompt_tokens: int, max_tokens: int) -> float | None:
        """Seconds a request of this size needs at the measured speed; None until measured."""
        with self._lock:
            decode, prefill = self._decode, self._prefill
        if decode is None:
            return None
        prefill = prefill if prefill is not None else decode * PREFILL_OVER_DECODE
        return prompt_tokens / prefill + max_tokens / decode


def generation_timeout(meter: SpeedMeter | None, prompt_tokens: int, max_tokens: int) -> float:
    """The timeout of one local call, counted from its admission to a slot."""
    needed = meter.seconds_for(prompt_tokens, max_tokens) if meter is not None else None
    if needed is None:
        return UNMEASURED_TIMEOUT_S
    return max(FLOOR_S, SAFETY * needed)
