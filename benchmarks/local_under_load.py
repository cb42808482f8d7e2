"""llama.cpp thread and slot settings, quiet and beside a CPU-bound process, side by side.

The reference is issue #16's measurement: one request of 291 prompt + 64 new tokens
(SmolLM2-135M Q4_1, greedy) took 69-87 s with ``n_threads=2`` and 5.8-20 s with
``n_threads=1`` while another CPU-bound process ran on the 2-core machine. This script
measures every candidate setting in the same run, in three conditions:

- ``quiet``: nothing started by the script (whatever else the machine runs is reported as
  its load average);
- ``busy``: beside one ``python -c 'while 1: pass'`` the scheduler may put on any core;
- ``pinned``: beside the same process pinned to CPU 0.

For each setting (``n_threads`` x ``n_parallel``) it times one request alone (``single_s``,
median of ``--reps``) and 4 requests sent together (``four_s``, their wall time). Every
prompt is a different text of exactly 291 tokens (llama.cpp reuses cached prompts), every
request must generate 64 tokens. A request over ``--cap-s`` is stopped and counted as the
cap. The last line is one JSON object; ``default_threads`` is the engine's default here.

    .venv/bin/python benchmarks/local_under_load.py [--reps 3] [--phases quiet,busy,pinned]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

PROMPT_TOKENS = 291
NEW_TOKENS = 64
WORDS = (
    "river",
    "stone",
    "lantern",
    "harbour",
    "winter",
    "market",
    "engine",
    "garden",
    "letter",
    "orchard",
    "meadow",
    "bridge",
    "candle",
    "forest",
    "signal",
    "copper",
    "window",
    "valley",
    "tower",
    "ribbon",
    "thunder",
    "pocket",
    "silver",
    "island",
)


def _prompt(engine: Any, index: int) -> list[dict[str, str]]:
    """A chat of exactly PROMPT_TOKENS tokens, different for each ``index``."""
    head = f"Story {index}. Write a long story about these words, one by one:"
    words: list[str] = []

    def chat() -> list[dict[str, str]]:
        return [{"role": "user", "content": " ".join([head, *words])}]

    while engine.count_tokens(chat()) < PROMPT_TOKENS:
        words.append(WORDS[(index + len(words)) % len(WORDS)])
    while engine.count_tokens(chat()) > PROMPT_TOKENS:
        words.pop()
    while engine.count_tokens(chat()) < PROMPT_TOKENS:
        words.append("a")  # one token each
    if engine.count_tokens(chat()) != PROMPT_TOKENS:
        raise SystemExit(f"could not build a prompt of {PROMPT_TOKENS} tokens")
    return chat()


@contextmanager
def neighbour(kind: str) -> Iterator[None]:
    """Nothing (quiet), or a CPU-bound process, unpinned (busy) or pinned to CPU 0."""
    if kind == "quiet":
        yield
        return
    pin = (lambda: os.sched_setaffinity(0, {0})) if kind == "pinned" else None
    proc = subprocess.Popen([sys.executable, "-c", "while 1: pass"], preexec_fn=pin)
    try:
        time.sleep(1.0)
        yield
    finally:
        proc.kill()
        proc.wait()


def _timed(engine: Any, chat: list[dict[str, str]], cap_s: float) -> float:
    from clade.orchestrator.models.engine import SamplingParams

    params = SamplingParams(max_tokens=NEW_TOKENS, temperature=0.0)
    began = time.perf_counter()
    future = engine.submit(chat, params)
    try:
        gen = future.result(timeout=cap_s)
    except TimeoutError:
        future.cancel()
        return cap_s
    if gen.completion_tokens != NEW_TOKENS:
        raise SystemExit(f"a request generated {gen.completion_tokens} tokens, not {NEW_TOKENS}")
    return time.perf_counter() - began


def measure(threads: int, slots: int, reps: int, cap_s: float, seq: list[int]) -> dict[str, float]:
    from clade.orchestrator.models.embedded import gguf_path
    from clade.orchestrator.models.llamacpp import load_engine

    with load_engine(gguf_path(), n_threads=threads, n_parallel=slots, n_ctx=1024) as engine:
        seq[0] += 1
        _timed(engine, _prompt(engine, seq[0]), cap_s)  # warm-up
        singles = []
        for _ in range(reps):
            seq[0] += 1
            singles.append(_timed(engine, _prompt(engine, seq[0]), cap_s))
        chats = []
        for _ in range(4):
            seq[0] += 1
            chats.append(_prompt(engine, seq[0]))
        times: list[float] = []
        began = time.perf_counter()
        workers = [
            threading.Thread(target=lambda c=c: times.append(_timed(engine, c, cap_s)))
            for c in chats
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        four = min(time.perf_counter() - began, cap_s)
    return {
        "single_s": round(statistics.median(singles), 2),
        "single_max_s": round(max(singles), 2),
        "four_s": round(four, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3, help="single requests per setting")
    parser.add_argument("--phases", default="quiet,busy,pinned")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--slots", default="1,4")
    parser.add_argument("--cap-s", type=float, default=120.0, help="longest wait per request")
    args = parser.parse_args()
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    from clade.orchestrator.models.llamacpp_server import default_threads

    figures: dict[str, Any] = {"cpus": os.cpu_count(), "default_threads": default_threads()}
    seq = [0]
    print(
        f"{'phase':7} {'threads':>7} {'slots':>5} {'single_s':>9} {'max_s':>7} {'four_s':>7}  load"
    )
    for phase in args.phases.split(","):
        with neighbour(phase):
            for threads in map(int, args.threads.split(",")):
                for slots in map(int, args.slots.split(",")):
                    load = os.getloadavg()[0]
                    got = measure(threads, slots, args.reps, args.cap_s, seq)
                    print(
                        f"{phase:7} {threads:>7} {slots:>5} {got['single_s']:>9} "
                        f"{got['single_max_s']:>7} {got['four_s']:>7}  {load:.1f}",
                        flush=True,
                    )
                    key = f"{phase}_t{threads}_p{slots}"
                    figures[f"{key}_single_s"] = got["single_s"]
                    figures[f"{key}_four_s"] = got["four_s"]
                    figures[f"{key}_load"] = round(load, 1)
    print("reference (issue #16, busy): n_threads=2 69.1-86.7 s, n_threads=1 5.8-20.5 s")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
