"""The llama.cpp engine without generating: GGUF checks, options, request mapping, errors."""

from __future__ import annotations

import struct
import threading

import pytest

from clade.archive.errors import ConfigError
from clade.orchestrator.errors import CladeError
from clade.orchestrator.models.embedded import gguf_path
from clade.orchestrator.models.engine import SamplingParams
from clade.orchestrator.models.llamacpp import (
    GGUFError,
    LlamaCppError,
    check_gguf,
    load_engine,
)
from clade.orchestrator.models.llamacpp_wire import StreamCollector, build_request


def _one_line(exc: CladeError) -> str:
    text = str(exc)
    assert "\n" not in text
    return text


def test_missing_file_is_one_clear_error(tmp_path):
    with pytest.raises(GGUFError) as caught:
        load_engine(tmp_path / "nope.gguf")
    assert f"{tmp_path / 'nope.gguf'} does not exist" in _one_line(caught.value)


def test_folder_is_not_a_model(tmp_path):
    with pytest.raises(GGUFError, match="is a folder"):
        check_gguf(tmp_path)


@pytest.mark.parametrize(
    "content",
    [b"", b"GGU", b"PK\x03\x04 a zip file, not a model at all", b"\x00" * 64],
    ids=["empty", "short", "zip", "zeros"],
)
def test_non_gguf_file_is_rejected_before_llama_cpp(tmp_path, content):
    file = tmp_path / "model.gguf"
    file.write_bytes(content)
    with pytest.raises(GGUFError) as caught:
        load_engine(file)
    assert "is not a GGUF file" in _one_line(caught.value)
    assert caught.value.hint


def test_unsupported_gguf_version(tmp_path):
    file = tmp_path / "old.gguf"
    file.write_bytes(struct.pack("<4sIQQ", b"GGUF", 1, 0, 0))
    with pytest.raises(GGUFError, match="GGUF version 1"):
        check_gguf(file)


def test_corrupt_gguf_fails_with_one_line_from_llama_cpp(tmp_path, capfd):
    """A real header followed by half the file: llama.cpp itself must refuse it, quietly."""
    data = gguf_path().read_bytes()
    file = tmp_path / "truncated.gguf"
    file.write_bytes(data[: len(data) // 2])
    assert check_gguf(file) == file.resolve()  # the header alone looks fine
    with pytest.raises(GGUFError) as caught:
        load_engine(file, n_parallel=1, n_ctx=256)
    assert "could not load" in _one_line(caught.value)
    assert capfd.readouterr().err == ""


def test_embedded_model_passes_the_check():
    assert check_gguf(gguf_path()).name.endswith(".gguf")


def test_unknown_or_invalid_options_are_config_errors():
    with pytest.raises(ConfigError, match="n_slots"):
        load_engine(gguf_path(), n_slots=4)
    with pytest.raises(ConfigError, match="n_parallel"):
        load_engine(gguf_path(), n_parallel=0)


def test_request_maps_every_sampling_parameter():
    params = SamplingParams(max_tokens=17, temperature=0.7, top_p=0.9, stop=["END"], seed=3)
    messages = [{"role": "user", "content": "hi"}]
    request = build_request(messages, params)
    assert request["messages"] == messages
    assert (request["max_tokens"], request["temperature"], request["top_p"]) == (17, 0.7, 0.9)
    assert (request["stop"], request["seed"]) == (["END"], 3)
    # llama.cpp's own top-k and min-p would reshape the distribution: both are off.
    assert (request["top_k"], request["min_p"]) == (0, 0.0)
    # Streamed, so that a cancelled request stops; usage comes in the last chunk.
    assert request["stream"] and request["stream_options"] == {"include_usage": True}
    unseeded = build_request(messages, SamplingParams())
    assert "seed" not in unseeded and "stop" not in unseeded


def collect(*chunks: dict, stop: threading.Event | None = None) -> StreamCollector:
    collector = StreamCollector("llamacpp/m.gguf", stop or threading.Event())
    for chunk in chunks:
        if collector(chunk):
            break
    return collector


def test_error_chunk_stops_the_stream_and_becomes_an_error_with_hint():
    error = {"error": {"code": 400, "message": "request exceeds the available context size"}}
    collector = StreamCollector("llamacpp/m.gguf", threading.Event())
    assert collector(error) is True
    with pytest.raises(LlamaCppError) as caught:
        collector.generation()
    assert "llamacpp/m.gguf: request exceeds" in _one_line(caught.value)
    assert "n_ctx" in (caught.value.hint or "")


def test_stream_without_result_is_an_error():
    with pytest.raises(LlamaCppError, match="without a result"):
        collect({"choices": [{"delta": {"content": "a"}}]}).generation()


def test_malformed_chunk_is_recorded_not_raised_into_llama_cpp():
    collector = StreamCollector("m", threading.Event())
    assert collector({"choices": [None]}) is True
    with pytest.raises(LlamaCppError, match="unexpected chunk"):
        collector.generation()


def test_set_stop_event_tells_llama_cpp_to_stop():
    stop = threading.Event()
    collector = StreamCollector("m", stop)
    assert collector({"choices": [{"delta": {"content": "a"}}]}) is False
    stop.set()
    assert collector({"choices": [{"delta": {"content": "b"}}]}) is True


def test_text_usage_and_finish_reason_are_assembled_from_the_chunks():
    generation = collect(
        {"choices": [{"delta": {"role": "assistant", "content": None}}]},
        {"choices": [{"delta": {"content": "a"}}]},
        {"choices": [{"delta": {"content": "b"}}]},
        {"choices": [{"delta": {}, "finish_reason": "length"}]},
        {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2}},
    ).generation()
    assert (generation.text, generation.prompt_tokens, generation.completion_tokens) == ("ab", 5, 2)
    assert generation.finish_reason == "length"
