"""Names: the embedded alias follows CLADE_LOCAL_BACKEND; bad names and options fail clearly."""

from __future__ import annotations

import importlib.util

import pytest

from clade.orchestrator.config import settings
from clade.orchestrator.models import ModelCallFailed, ModelLayer, resolve_model
from clade.orchestrator.models.embedded import gguf_path
from clade.orchestrator.models.routing import local_backend


@pytest.fixture
def backend(monkeypatch):
    def use(value: str) -> None:
        monkeypatch.setenv("CLADE_LOCAL_BACKEND", value)
        settings.cache_clear()

    yield use
    settings.cache_clear()


@pytest.mark.parametrize("engine", ["transformers", "llamacpp"])
def test_alias_resolves_to_the_forced_engine(backend, engine):
    backend(engine)
    assert resolve_model("smollm2-135m") == f"{engine}/{gguf_path()}"


def test_auto_prefers_llamacpp_on_cpu_when_installed(backend):
    backend("auto")
    import torch

    has_llamacpp = importlib.util.find_spec("xllamacpp") is not None
    expected = "llamacpp" if has_llamacpp and not torch.cuda.is_available() else "transformers"
    assert local_backend() == expected


def test_other_names_pass_through_unchanged():
    for name in (
        "openai/gpt-4o-mini",
        "anthropic/claude-sonnet-4-5",
        "hosted_vllm/m",
        "scripted/x",
    ):
        assert resolve_model(name) == name


def test_missing_gguf_and_unknown_engine_option_are_clear_errors(tmp_path):
    from clade.orchestrator.models import ModelError, ModelsConfig

    with pytest.raises(ModelError, match="not found"):
        ModelLayer().complete(
            [{"role": "user", "content": "x"}], model=f"transformers/{tmp_path / 'absent.gguf'}"
        )
    spec = {"model": f"transformers/{gguf_path()}", "engine_options": {"bogus": 1}}
    with pytest.raises(ModelError, match="bogus"):
        ModelLayer(ModelsConfig.model_validate({"default": spec})).complete(
            [{"role": "user", "content": "x"}]
        )


def test_unknown_provider_fails_without_retries():
    with pytest.raises(ModelCallFailed) as info:
        ModelLayer().complete([{"role": "user", "content": "x"}], model="nosuchprovider/model")
    assert info.value.attempts == 1
