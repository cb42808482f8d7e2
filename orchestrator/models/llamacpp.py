"""The llama.cpp engine: GGUF models served in-process by ``xllamacpp``'s server.

``llamacpp/<path to .gguf>`` model names reach :func:`load_engine` through the model
layer's router. The engine wraps ``xllamacpp.Server``: one model in memory, ``n_parallel``
slots decoded together (continuous batching), the chat template read from the GGUF and
applied by llama.cpp, token usage counted by llama.cpp itself. Requests run on a pool of
``n_parallel`` threads (the binding releases the GIL while it waits), so concurrent
callers fill the slots; cancelling a request's future stops it at the next token.

The server also opens an HTTP listener; here it listens on a Unix socket in a private
(0700) temporary folder and demands a random API key, so nothing reaches the model except
through Clade's metered model layer.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import secrets
import shutil
import tempfile
import threading
import weakref
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, InvalidStateError, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from clade.orchestrator.errors import CladeError, ConfigError, SetupError
from clade.orchestrator.models.engine import Generation, SamplingParams
from clade.orchestrator.models.llamacpp_gguf import GGUFError, check_gguf
from clade.orchestrator.models.llamacpp_wire import LlamaCppError, StreamCollector, build_request

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
INSTALL_HINT = "install the llama.cpp backend: pip install 'clade-agents[llamacpp]'"
# llama.cpp's server keeps finished prompts in RAM to reuse their prefixes; its own default
# (8 GiB) is too much for a machine shared with sandboxes.
PROMPT_CACHE_MIB = 512


def _usable_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


class LlamaCppOptions(BaseModel):
    """How a GGUF model is served by llama.cpp."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_parallel: int = Field(
        default=4,
        ge=1,
        description="Slots: requests decoded together; more wait in llama.cpp's queue. "
        "Size it to the run's sandbox parallelism.",
    )
    n_threads: int = Field(
        default_factory=_usable_cpus,
        ge=1,
        description="CPU threads for prompt processing and generation (default: every core "
        "this process may run on).",
    )
    n_ctx: int = Field(
        default=4096,
        ge=64,
        description="Context length of each slot in tokens (prompt plus completion); "
        "the KV cache holds n_ctx * n_parallel tokens.",
    )
    poll: int = Field(
        default=0,
        ge=0,
        le=100,
        description="How hard idle llama.cpp threads busy-wait for work (0-100; llama.cpp's "
        "own default is 50). 0 lets them sleep, leaving the CPUs to sandboxes and to other "
        "engines between requests.",
    )
    verbose: bool = Field(
        default=False, description="Let llama.cpp log to stderr (loading, slots, timings)."
    )


def is_installed() -> bool:
    """True when the ``xllamacpp`` binding can be imported (without importing it)."""
    return importlib.util.find_spec("xllamacpp") is not None


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


class _Pending(Future[Generation]):
    """A request's future. It stays pending until the result is in, so ``cancel()`` works
    while llama.cpp generates: the stream stops at the next token."""

    def __init__(self) -> None:
        super().__init__()
        self.stop = threading.Event()

    def cancel(self) -> bool:
        self.stop.set()
        return super().cancel()


class LlamaCppEngine:
    """A GGUF model served by an in-process llama.cpp server (a :class:`LocalEngine`)."""

    def __init__(
        self, path: str | os.PathLike[str], options: LlamaCppOptions | None = None
    ) -> None:
        self.options = options or LlamaCppOptions()
        self.path = check_gguf(path)
        self.name = f"{ENGINE_PREFIX}{self.path}"
        if not is_installed():
            raise SetupError("llama.cpp backend (xllamacpp) is not installed", hint=INSTALL_HINT)
        self._lock = threading.Lock()
        self._socket_dir = tempfile.mkdtemp(prefix="clade-llamacpp-")
        try:
            self._server: Any = _start_server(self.path, self.options, self._socket_dir)
        except BaseException:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            raise
        # The socket's folder goes with the engine even if close() is never called.
        self._cleanup = weakref.finalize(self, shutil.rmtree, self._socket_dir, True)
        self._pool = ThreadPoolExecutor(
            max_workers=self.options.n_parallel, thread_name_prefix="clade-llamacpp"
        )

    def submit(
        self, messages: Sequence[Mapping[str, Any]], params: SamplingParams
    ) -> Future[Generation]:
        """Queue a chat completion; cancelling the future stops it at the next token."""
        if not messages:
            raise LlamaCppError("a chat completion needs at least one message")
        request = build_request(messages, params)
        future = _Pending()
        with self._lock:
            if self._server is None:
                raise LlamaCppError(f"{self.name} is closed")
            # The task holds its own reference: a close() meanwhile lets it finish.
            self._pool.submit(self._run, self._server, request, future)
        return future

    def generate(self, messages: Sequence[Mapping[str, Any]], params: SamplingParams) -> Generation:
        """Complete a chat; thread-safe, calls made together share the decoding batches."""
        return self.submit(messages, params).result()

    def close(self) -> None:
        """Refuse new requests and free the model once those queued or running finish."""
        with self._lock:
            self._server = None
            self._pool.shutdown(wait=False)
        self._cleanup()

    def __enter__(self) -> LlamaCppEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, server: Any, request: dict[str, Any], future: _Pending) -> None:
        if future.stop.is_set():
            return  # cancelled while queued
        collector = StreamCollector(self.name, future.stop)
        outcome: Generation | BaseException
        try:
            server.handle_chat_completions(request, collector)
            outcome = collector.generation()
        except CladeError as exc:
            outcome = exc
        except Exception as exc:
            outcome = LlamaCppError(f"{self.name}: llama.cpp failed: {exc}")
        # A future cancelled meanwhile is settled already.
        with contextlib.suppress(InvalidStateError):
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)


def _start_server(path: Path, options: LlamaCppOptions, socket_dir: str) -> Any:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.n_parallel = options.n_parallel
    params.n_ctx = options.n_ctx * options.n_parallel
    params.kv_unified = False  # each slot owns n_ctx tokens: no request starves another
    params.cpuparams.n_threads = options.n_threads
    params.cpuparams_batch.n_threads = options.n_threads
    params.cpuparams.poll = options.poll
    params.cpuparams_batch.poll = options.poll
    params.cache_ram_mib = PROMPT_CACHE_MIB
    params.verbosity = 3 if options.verbose else -1
    # Hand back the model's text as it is: no <think> splitting into reasoning_content.
    params.reasoning_format = xllamacpp.common_reasoning_format.COMMON_REASONING_FORMAT_NONE
    # The built-in HTTP listener: a private Unix socket behind a random key.
    params.hostnames = [os.path.join(socket_dir, "llama.sock")]
    params.api_keys = [secrets.token_urlsafe(24)]
    params.ui = False
    params.endpoint_slots = False
    try:
        return xllamacpp.Server(params)
    except RuntimeError as exc:
        raise GGUFError(
            f"llama.cpp could not load {path} (a corrupt or unsupported GGUF file?)",
            hint="load it with the option verbose=True to see llama.cpp's log",
        ) from exc
