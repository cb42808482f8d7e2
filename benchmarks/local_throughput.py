"""Throughput of the embedded model on the transformers backend, through the sandbox socket.

In one process and one run: plain ``model.generate`` (one stream, the reference: the model
as transformers loads it, without the engine's prepacked CPU kernels), then the socket server (agents/llm_client.py over a Unix socket -> gateway -> litellm -> batching
transformers engine) with 1 stream and with 4 concurrent streams. Every request is greedy
with the same ``max_tokens``. Targets (Models issue): ratio_4_vs_1 >= 2.5 and
server_overhead <= 0.10 (overhead = 1 - server_1 / generate).

    .venv/bin/python benchmarks/local_throughput.py [--max-tokens 64] [--requests 3] [--rounds 3]
        [--no-prepack]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

TOPICS = [
    "a lighthouse keeper",
    "a robot gardener",
    "a lost kitten",
    "a desert caravan",
    "an old clock",
    "a river",
]


def prompt(i: int) -> list[dict[str, str]]:
    return [
        {
            "role": "user",
            "content": f"Write a long, detailed story about {TOPICS[i % len(TOPICS)]}.",
        }
    ]


def stock_model(engine):
    """The engine's model loaded again as transformers gives it (the reference)."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(
        engine.model.name_or_path, dtype=getattr(torch, engine.dtype), local_files_only=True
    )
    return model.to(engine.device).eval()


def plain_generate(engine, model, n: int, max_tokens: int) -> float:
    import torch

    tokens, start = 0, time.perf_counter()
    for i in range(n):
        ids = torch.tensor([engine.encode(prompt(i))], device=engine.device)
        with torch.inference_mode():
            out = model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=max_tokens,
                do_sample=False,
                pad_token_id=engine.pad_id,
            )
        tokens += out.shape[1] - ids.shape[1]
    return tokens / (time.perf_counter() - start)


def through_socket(streams: int, n: int, max_tokens: int) -> float:
    from clade.agents import llm_client

    counts = [0] * streams

    def stream(s: int) -> None:
        for i in range(n):
            reply = llm_client.chat(prompt(s * n + i), max_tokens=max_tokens, temperature=0)
            counts[s] += reply["usage"]["completion_tokens"]

    threads = [threading.Thread(target=stream, args=(s,)) for s in range(streams)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--max-tokens", type=int, default=64, help="new tokens per request (default 64)"
    )
    parser.add_argument(
        "--requests", type=int, default=3, help="requests per stream per round (default 3)"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds; the median is reported (default 3)"
    )
    parser.add_argument(
        "--no-prepack",
        action="store_true",
        help="serve with transformers' stock CPU kernels (the engine's prepack=False), for comparison",
    )
    args = parser.parse_args()

    from clade.orchestrator.models import Gateway, MemorySink, ModelLayer, ModelsConfig, get_engine
    from clade.orchestrator.models.embedded import gguf_path

    path = str(gguf_path())
    model = f"transformers/{path}"
    spec = {"model": model, "engine_options": {"prepack": not args.no_prepack}}
    layer = ModelLayer(ModelsConfig.model_validate({"default": spec}), sink=MemorySink())
    start = time.perf_counter()
    layer.complete(prompt(0), max_tokens=4)  # loads the engine through litellm
    engine = get_engine("transformers", path, spec["engine_options"])
    print(
        f"engine loaded and warmed in {time.perf_counter() - start:.1f} s "
        f"({engine.device}, {engine.dtype}, prepacked CPU kernels: {engine.prepacked})"
    )
    reference = stock_model(engine)
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")

    results: dict[str, list[float]] = {
        "generate_tok_s": [],
        "server_1_tok_s": [],
        "server_4_tok_s": [],
    }
    socket_path = Path(tempfile.mkdtemp(prefix="clade-bench-")) / "llm.sock"
    os.environ.pop("CLADE_LLM_URL", None)
    os.environ["CLADE_LLM_SOCKET"] = str(socket_path)
    with Gateway(layer).serve_unix(socket_path, run_id="bench", candidate_id="bench"):
        for r in range(args.rounds):
            results["generate_tok_s"].append(
                plain_generate(engine, reference, args.requests, args.max_tokens)
            )
            results["server_1_tok_s"].append(through_socket(1, args.requests, args.max_tokens))
            results["server_4_tok_s"].append(through_socket(4, args.requests, args.max_tokens))
            load = os.getloadavg()[0]
            print(
                f"round {r + 1}: "
                + ", ".join(f"{k} {v[-1]:.1f}" for k, v in results.items())
                + f" (load {load:.2f})"
            )
            print(f"  batches run so far (size: count): {engine._worker.batch_sizes()}")
    socket_path.parent.rmdir()

    out = {k: round(statistics.median(v), 2) for k, v in results.items()}
    out["ratio_4_vs_1"] = round(out["server_4_tok_s"] / out["server_1_tok_s"], 2)
    out["server_overhead"] = round(1 - out["server_1_tok_s"] / out["generate_tok_s"], 3)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(
        f"4 streams give {out['ratio_4_vs_1']:.2f}x one stream (target >= 2.5); "
        f"server overhead {out['server_overhead']:.1%} (target <= 10%)"
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
