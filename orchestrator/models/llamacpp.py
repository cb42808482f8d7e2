"""The llama.cpp engine: GGUF models served in-process by ``xllamacpp``'s server.

``llamacpp/<path to .gguf>`` model names reach :func:`load_engine` through the model
layer's router. The engine wraps ``xllamacpp.Server``: one model in memory, ``n_parallel``
slots decoded together (continuous batching), the chat template read from the GGUF and
applied by llama.cpp, token usage counted by llama.cpp itself. Requests wait in Clade's
priority queue in front of the slots and run on ``n_parallel`` threads (the binding
releases the GIL while it waits); cancelling a request's future stops it at the next token,
or drops it unseen while it waits.

The server also opens an HTTP listener; here it listens on a Unix socket in a private
(0700) temporary folder and demands a random API key, so nothing reaches the model except
through Clade's metered model layer (and the engine's own token counting).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
import threading
import weakref
from collections.abc import Mapping, Sequence
from concurrent.futures import InvalidStateError
from typing import Any

from pydantic import ValidationError

from clade.orchestrator.errors import CladeError, ConfigError, SetupError
from clade.orchestrator.models.engine import Generation, SamplingParams
from clade.orchestrator.models.llamacpp_gguf import GGUFError, check_gguf
from clade.orchestrator.models.llamacpp_server import (
    INSTALL_HINT,
    LlamaCppOptions,
    is_installed,
    start_server,
)
from clade.orchestrator.models.llamacpp_wire import LlamaCppError, StreamCollector, build_request
from clade.orchestrator.models.scheduling import EngineFuture, EngineStats, PriorityWork
from clade.orchestrator.models.speed import SpeedMeter

__all__ = [
    "GGUFError",
    "LlamaCppEngine",
    "LlamaCppError",
    "LlamaCppOptions",
    "check_gguf",
    "is_installed",
    "load_engine",
]

ENGINE_PREFIX = "llamacpp/"

_Item = tuple[Any, dict[str, Any], EngineFuture]


def load_engine(path: str | os.PathLike[str], **options: Any) -> LlamaCppEngine:
    """Load the GGUF model at ``path``; options are the fields of :class:`LlamaCppOptions`
    (n_parallel, n_threads, n_ctx, poll, verbose)."""
    try:
        parsed = LlamaCppOptions(**options)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, error['loc']))}: {error['msg']}" for error in exc.errors()
        )
        raise ConfigError(
            f"invalid llama.cpp options: {problems}",
            hint=f"valid options: {', '.join(LlamaCppOptions.model_fields)}",
        ) from None
    return LlamaCppEngine(path, parsed)


class LlamaCppEngine:
    """A GGUF model served by an in-process llama.cpp server (a :class:`LocalEngine`).

    ``stats`` counts requests, cancellations, generated and abandoned tokens; ``speed`` is
    the running estimate of one request's speed, from llama.cpp's own timings.
    """

    def __init__(
        self, path: str | os.PathLike[str], options: LlamaCppOptions | None = None
    ) -> None:
        self.options = options or LlamaCppOptions()
        self.path = check_gguf(path)
        self.name = f"{ENGINE_PREFIX}{self.path}"
        if not is_installed():
            raise SetupError("llama.cpp backend (xllamacpp) is not installed", hint=INSTALL_HINT)
        self.stats = EngineStats()
        self.speed = SpeedMeter()
        self._lock = threading.Lock()
        self._running: set[EngineFuture] = set()
        self._socket_dir = tempfile.mkdtemp(prefix="clade-llamacpp-")
        self._api_key = secrets.token_urlsafe(24)
        try:
            self._server: Any = start_server(
                self.path, self.options, self._socket_dir, self._api_key
            )
        except BaseException:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            raise
        # The socket's folder goes with the engine even if close() is never called.
        self._cleanup = weakref.finalize(self, shutil.rmtree, self._socket_dir, True)
        self._work: PriorityWork[_Item] = PriorityWork(
            self._run, self.options.n_parallel, "clade-llamacpp"
        )

    @property
    def abandoned_tokens(self) -> int:
        """Tokens generated for callers that had gone (see :class:`StreamCollector`)."""
        return self.stats.abandoned_tokens

    def submit(
        self, messages: Sequence[Mapping[str, Any]], params: SamplingParams, priority: int = 0
    ) -> EngineFuture:
        """Queue a chat completion (higher ``priority`` first); cancelling the future stops
        it at the next token."""
        if not messages:
            raise LlamaCppError("a chat completion needs at least one message")
        request = build_request(messages, params)
        future = EngineFuture(priority)
        with self._lock:
            if self._server is None:
                raise LlamaCppError(f"{self.name} is closed")
            # The item holds its own reference to the server: a close() meanwhile lets it finish.
            self._work.submit((self._server, request, future), priority)
        return future

    def generate(
        self, messages: Sequence[Mapping[str, Any]], params: SamplingParams, priority: int = 0
    ) -> Generation:
        """Complete a chat; thread-safe, calls made together share the decoding batches."""
        result: Generation = self.submit(messages, params, priority).result()
        return result

    def waiting(self) -> int:
        """Requests queued for a slot."""
        return self._work.waiting()

    def count_tokens(self, messages: Sequence[Mapping[str, Any]]) -> int | None:
        """Prompt tokens of ``messages`` under the model's chat template, counted by
        llama.cpp's tokenizer without taking a slot; None when it cannot say."""
        import httpx

        with self._lock:
            if self._server is None:
                return None
        transport = httpx.HTTPTransport(uds=os.path.join(self._socket_dir, "llama.sock"))
        headers = {"Authorization": f"Bearer {self._api_key}"}
        chat = [dict(m) for m in messages]
        try:
            with httpx.Client(
                transport=transport, base_url="http://llama", headers=headers, timeout=60
            ) as client:
                prompt = client.post("/apply-template", json={"messages": chat}).json()["prompt"]
                body = {"content": prompt, "add_special": False, "parse_special": True}
                return len(client.post("/tokenize", json=body).json()["tokens"])
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            return None

    def close(self, wait_s: float = 0.0) -> None:
        """Refuse new requests and free the model once those queued or running finish.

        With ``wait_s``, cancel them instead and wait up to that long for the slots to
        stop (at process exit: a thread still inside llama.cpp when the interpreter ends
        aborts the process)."""
        with self._lock:
            self._server = None
            self._work.close()
            running = list(self._running)
        if wait_s > 0:
            for _, _, future in self._work.drain():
                future.cancel()
            for future in running:
                future.cancel()
            self._work.join(wait_s)
        self._cleanup()

    def __enter__(self) -> LlamaCppEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, item: _Item) -> None:
        server, request, future = item
        if future.stop.is_set():
            self.stats.add(cancelled=1)
            return  # cancelled while it waited: never decoded
        future.admit()
        with self._lock:
            self._running.add(future)
        collector = StreamCollector(self.name, future.stop, self._streamed)
        outcome: Generation | BaseException
        try:
            server.handle_chat_completions(request, collector)
            outcome = collector.generation()
        except CladeError as exc:
            outcome = exc
        except Exception as exc:
            outcome = LlamaCppError(f"{self.name}: llama.cpp failed: {exc}")
        with self._lock:
            self._running.discard(future)
        self._account(collector, outcome)
        # A future cancelled meanwhile is settled already.
        with contextlib.suppress(InvalidStateError):
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    def _streamed(self) -> None:
        self.stats.add(tokens_generated=1)  # live: a test or a monitor sees progress

    def _account(self, collector: StreamCollector, outcome: Generation | BaseException) -> None:
        done = isinstance(outcome, Generation)
        self.stats.add(
            requests=1, cancelled=int(collector.cancelled), abandoned_tokens=collector.abandoned
        )
        timings = collector.timings
        if done and timings and not collector.cancelled:
            with contextlib.suppress(KeyError, TypeError, ValueError):
                self.speed.observe(
                    int(timings["prompt_n"]),
                    float(timings["prompt_ms"]) / 1000,
                    int(timings["predicted_n"]),
                    float(timings["predicted_ms"]) / 1000,
                )
