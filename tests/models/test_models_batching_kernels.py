"""Prepacked CPU linears: a lone row is computed exactly as stock, batches agree with stock."""

from __future__ import annotations

import pytest
import torch

from clade.orchestrator.models import cpu_kernels


def test_prepack_is_only_offered_for_fp32_on_cpu():
    assert cpu_kernels.prepack_supported("cpu", "float32")  # the batching target rests on it
    assert not cpu_kernels.prepack_supported("cuda", "float32")
    assert not cpu_kernels.prepack_supported("cpu", "bfloat16")


def test_packed_linear_keeps_one_row_exact_and_batches_close():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 96), torch.nn.Linear(96, 32, bias=False))
    stock = [layer.weight.clone() for layer in model]
    x = torch.randn(5, 1, 64)
    with torch.inference_mode():
        expected, expected_one = model(x), model(x[:1])
        assert cpu_kernels.prepack_linears(model) == 2
        assert all(isinstance(layer, cpu_kernels.PackedLinear) for layer in model)
        assert all(torch.equal(layer.weight, w) for layer, w in zip(model, stock, strict=True))
        assert torch.equal(model(x[:1]), expected_one)  # one row: the stock kernel, bit for bit
        batched = model(x)
    assert batched.shape == expected.shape
    torch.testing.assert_close(batched, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_batched_greedy_on_prepacked_engine_matches_stock_single_stream():
    from transformers import AutoModelForCausalLM

    from clade.orchestrator.models.embedded import gguf_path
    from clade.orchestrator.models.engine import SamplingParams
    from clade.orchestrator.models.transformers_engine import load_engine

    asks = [
        [{"role": "user", "content": text}]
        for text in (
            "What is the capital of France? Answer in one word.",
            "Write a long, detailed story about a robot gardener.",
            "Count to 5.",
            "Explain recursion in Python with an example.",
        )
    ]
    engine = load_engine(str(gguf_path()), batch_window_ms=200)
    try:
        assert engine.prepacked
        params = SamplingParams(max_tokens=24, temperature=0)
        futures = [engine.submit(ask, params) for ask in asks]
        batched = [f.result(timeout=300) for f in futures]
        assert max(engine._worker.batch_sizes()) >= 2
        stock = AutoModelForCausalLM.from_pretrained(
            engine.model.name_or_path, local_files_only=True
        ).eval()
        for ask, got in zip(asks, batched, strict=True):
            ids = torch.tensor([engine.encode(ask)])
            with torch.inference_mode():
                out = stock.generate(
                    input_ids=ids,
                    attention_mask=torch.ones_like(ids),
                    max_new_tokens=24,
                    do_sample=False,
                    pad_token_id=engine.pad_id,
                )
            new = [t for t in out[0, ids.shape[1] :].tolist() if t not in engine.eos_ids]
            assert got.text == engine.tokenizer.decode(new, skip_special_tokens=True)
    finally:
        engine.close()
