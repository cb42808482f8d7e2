"""How the llama.cpp engine starts ``xllamacpp``'s in-process server: options and defaults.

The thread default is measured, not guessed (``benchmarks/local_under_load.py``, figures in
docs/BENCHMARKS.md): on a 2-core machine beside one CPU-bound process, llama.cpp with a
thread per core waits at every step's barrier for a descheduled sibling and one request of
291 prompt + 64 new tokens took 69-87 s, against 6-20 s with one thread. So the default
leaves half the cores to the sandboxes, graders and the orchestrator that share them.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from clade.orchestrator.errors import SetupError
from clade.orchestrator.models.llamacpp_gguf import GGUFError

INSTALL_HINT = "install the llama.cpp backend: pip install 'clade-agents[llamacpp]'"
# llama.cpp's server keeps finished prompts in RAM to reuse their prefixes; its own default
# (8 GiB) is too much for a machine shared with sandboxes.
PROMPT_CACHE_MIB = 512


def usable_cpus() -> int:
    """CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def default_threads() -> int:
    """Half the usable CPUs, at least one: the default that holds up under contention."""
    return max(1, usable_cpus() // 2)


class LlamaCppOptions(BaseModel):
    """How a GGUF model is served by llama.cpp."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_parallel: int = Field(
        default=4,
        ge=1,
        description="Slots: requests decoded together; more wait in Clade's priority queue. "
        "Size it to the run's sandbox parallelism.",
    )
    n_threads: int = Field(
        default_factory=default_threads,
        ge=1,
        description="CPU threads for prompt processing and generation (default: half the "
        "cores this process may run on, at least 1; a thread per core collapses when "
        "anything else runs, see docs/BENCHMARKS.md).",
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


def start_server(path: Path, options: LlamaCppOptions, socket_dir: str, api_key: str) -> Any:
    """An ``xllamacpp.Server`` for ``path``; its HTTP listener is a Unix socket in
    ``socket_dir`` behind ``api_key``."""
    try:
        import xllamacpp
    except ImportError as exc:  # installed but broken (a missing shared library, say)
        raise SetupError(
            f"the llama.cpp backend (xllamacpp) cannot be imported: {exc}", hint=INSTALL_HINT
        ) from None

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
    params.api_keys = [api_key]
    params.ui = False
    params.endpoint_slots = False
    try:
        return xllamacpp.Server(params)
    except RuntimeError as exc:
        raise GGUFError(
            f"llama.cpp could not load {path} (a corrupt or unsupported GGUF file?)",
            hint="load it with the option verbose=True to see llama.cpp's log",
        ) from exc
