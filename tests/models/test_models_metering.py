"""Metering and budgets: one record per call, JSON-lines sink, token and dollar limits."""

from __future__ import annotations

import pytest

from clade.orchestrator.models import (
    Budget,
    BudgetExceeded,
    CallRecord,
    JsonlSink,
    MemorySink,
    ModelLayer,
    ModelsConfig,
    read_jsonl,
    register_script,
)
from clade.orchestrator.models.spec import ModelSpec

ASK = [{"role": "user", "content": "one two three"}]  # 3 prompt tokens for a scripted model


def _layer(sink, **kwargs):
    model = register_script("t-meter", lambda messages: "four five")  # 2 completion tokens
    return ModelLayer(
        ModelsConfig(default=ModelSpec(model=model), **kwargs), sink=sink, run_id="run-m"
    )


def test_jsonl_sink_round_trips_and_validates(tmp_path):
    path = tmp_path / "calls.jsonl"
    layer = _layer(JsonlSink(path))
    layer.complete(ASK, role="expert", candidate_id="c7")
    layer.complete(ASK, role="expert", candidate_id="c7")
    lines = path.read_text().splitlines()
    assert len(lines) == 2 and all(line.startswith("{") and line.endswith("}") for line in lines)
    records = list(read_jsonl(path))
    assert [
        (r.run_id, r.candidate_id, r.role, r.prompt_tokens, r.completion_tokens) for r in records
    ] == [("run-m", "c7", "expert", 3, 2)] * 2
    path.write_text(lines[0] + "\n" + '{"role": "x"}\n')
    with pytest.raises(ValueError):
        list(read_jsonl(path))


def test_token_budget_stops_new_calls():
    sink = MemorySink()
    layer = _layer(sink)
    tracker = layer.set_budget("run-m", Budget(max_tokens=10))
    layer.complete(ASK)
    layer.complete(ASK)  # 10 tokens used now
    with pytest.raises(BudgetExceeded) as info:
        layer.complete(ASK)
    assert info.value.limit == "tokens" and tracker.tokens == 10
    assert len(sink.records) == 2, "a refused call is not made"
    layer.complete(ASK, run_id="another-run")  # other runs are not limited


def test_dollar_budget_uses_user_prices():
    sink = MemorySink()
    layer = _layer(
        sink,
        prices={"scripted/t-meter": {"input_per_mtok": 1_000_000, "output_per_mtok": 2_000_000}},
    )
    tracker = layer.set_budget("run-m", Budget(max_usd=12.0))
    first = layer.complete(ASK)
    assert first.cost_usd == pytest.approx(3 * 1.0 + 2 * 2.0)
    # $5 left: the prompt ($3) and one token ($2) fit, a second token would not
    second = layer.complete(ASK)
    assert (second.completion_tokens, second.finish_reason) == (1, "length")
    with pytest.raises(BudgetExceeded, match="dollars"):
        layer.complete(ASK)
    assert [r.cost_usd for r in sink.records] == pytest.approx([7.0, 5.0])
    assert tracker.usd == pytest.approx(12.0) and tracker.reserved_usd == 0


def test_local_and_scripted_models_cost_nothing():
    sink = MemorySink()
    _layer(sink).complete(ASK)
    assert sink.records[0].cost_usd == 0.0 and sink.records[0].error is None


def test_api_model_cost_comes_from_litellm_price_map(fault_server, monkeypatch):
    monkeypatch.setenv("CLADE_TEST_KEY", "sk-test")
    fault_server.plan = ["ok"]
    spec = {
        "model": "openai/gpt-4o-mini",
        "api_base": fault_server.url,
        "api_key_env": "CLADE_TEST_KEY",
    }
    result = ModelLayer(ModelsConfig.model_validate({"default": spec})).complete(ASK)
    import litellm

    price = litellm.model_cost["gpt-4o-mini"]
    expected = 7 * price["input_cost_per_token"] + 1 * price["output_cost_per_token"]
    assert result.cost_usd == pytest.approx(expected) and expected > 0


def test_call_record_rejects_unknown_fields():
    with pytest.raises(ValueError):
        CallRecord.model_validate({"role": "agent", "model": "m", "surprise": 1})


def test_the_archive_records_exactly_the_fields_of_a_call_record(tmp_path):
    """ArchiveSink passes CallRecord's fields as keywords to the archive's record_model_call,
    whose signature the CallRecorder protocol does not repeat: the two must name the same
    fields, and a recorded call reads back as it was metered."""
    import inspect

    from clade.orchestrator.models.metering import ArchiveSink
    from tests.inprocess_runs import archive_in

    archive = archive_in(tmp_path)
    parameters = list(inspect.signature(archive.record_model_call).parameters)
    assert parameters == list(CallRecord.model_fields)
    run = archive.create_run(name="t", config={})
    record = CallRecord(run_id=run.id, role="expert", model="m", prompt_tokens=3,
                        completion_tokens=2, cost_usd=0.5, latency_s=0.25, cached=True)  # fmt: skip
    ArchiveSink(archive)(record)
    (usage,) = archive.call_usage(run_id=run.id)
    assert (usage.role, usage.model, usage.calls, usage.prompt_tokens, usage.cost_usd) == (
        "expert", "m", 1, 3, 0.5,
    )  # fmt: skip
    archive.close()
