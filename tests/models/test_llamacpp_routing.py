"""Which engine serves the embedded ``smollm2-135m``, and what `clade doctor` says about it."""

from __future__ import annotations

import sys

import pytest

from clade.orchestrator import doctor
from clade.orchestrator.config import settings
from clade.orchestrator.errors import SetupError
from clade.orchestrator.models import routing
from clade.orchestrator.models.embedded import EMBEDDED_ALIAS, gguf_path
from clade.orchestrator.models.llamacpp import load_engine


@pytest.fixture
def backend(monkeypatch):
    """Set CLADE_LOCAL_BACKEND for one test, with the settings cache cleared around it."""

    def choose(value: str) -> None:
        monkeypatch.setenv("CLADE_LOCAL_BACKEND", value)
        settings.cache_clear()

    yield choose
    settings.cache_clear()


def hide_xllamacpp(monkeypatch) -> None:
    """Make ``xllamacpp`` look uninstalled: find_spec returns None for a None module."""
    monkeypatch.setitem(sys.modules, "xllamacpp", None)


def cuda_present() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def test_auto_on_this_machine_picks_llama_cpp_without_a_gpu(backend):
    backend("auto")
    expected = "transformers" if cuda_present() else "llamacpp"
    assert routing.resolve_model(EMBEDDED_ALIAS) == f"{expected}/{gguf_path()}"


def test_auto_with_a_gpu_picks_transformers(backend, monkeypatch):
    backend("auto")
    monkeypatch.setattr(routing, "_cuda_available", lambda: True)
    assert routing.resolve_model(EMBEDDED_ALIAS) == f"transformers/{gguf_path()}"


def test_auto_without_llama_cpp_installed_picks_transformers(backend, monkeypatch):
    backend("auto")
    monkeypatch.setattr(routing, "_cuda_available", lambda: False)
    hide_xllamacpp(monkeypatch)
    assert routing.resolve_model(EMBEDDED_ALIAS) == f"transformers/{gguf_path()}"


@pytest.mark.parametrize("forced", ["llamacpp", "transformers"])
def test_config_forces_either_engine(backend, monkeypatch, forced):
    backend(forced)
    monkeypatch.setattr(routing, "_cuda_available", lambda: forced == "llamacpp")
    assert routing.resolve_model(EMBEDDED_ALIAS) == f"{forced}/{gguf_path()}"


def test_other_names_are_not_rewritten(backend):
    backend("llamacpp")
    assert routing.resolve_model("openai/gpt-4o-mini") == "openai/gpt-4o-mini"


def test_forced_llama_cpp_when_missing_says_how_to_install(backend, monkeypatch):
    backend("llamacpp")
    hide_xllamacpp(monkeypatch)
    with pytest.raises(SetupError) as caught:
        load_engine(gguf_path())
    assert "xllamacpp" in str(caught.value) and "[llamacpp]" in (caught.value.hint or "")


def test_doctor_names_the_engine_of_the_embedded_model(backend, monkeypatch):
    backend("transformers")
    result = doctor._check_local_backend()
    assert result.ok and f"{EMBEDDED_ALIAS} runs on transformers" in result.detail
    backend("llamacpp")
    assert f"{EMBEDDED_ALIAS} runs on llama.cpp" in doctor._check_local_backend().detail
    hide_xllamacpp(monkeypatch)
    missing = doctor._check_local_backend()
    assert not missing.ok and "not installed" in missing.detail and "llamacpp" in missing.fix


def test_a_run_wider_than_the_default_slots_sizes_every_llama_cpp_spec_alike(backend):
    from clade.orchestrator.models.spec import ModelsConfig

    backend("llamacpp")
    models = ModelsConfig.model_validate(
        {
            "default": "smollm2-135m",
            "roles": {
                "agent": "smollm2-135m",
                "judge": {"model": "smollm2-135m", "engine_options": {"n_parallel": 2}},
                "diagnose": "openai/gpt-4o-mini",
            },
        }
    )
    assert routing.size_slots(models, 3) is models  # within llama.cpp's default 4 slots
    sized = routing.size_slots(models, 9)
    assert sized.default.engine_options == {"n_parallel": 9}
    assert sized.for_role("agent").engine_options == {"n_parallel": 9}
    assert sized.for_role("judge").engine_options == {"n_parallel": 2}  # the user's choice
    assert sized.for_role("diagnose").engine_options == {}  # not a local model
    backend("transformers")
    assert routing.size_slots(models, 9).default.engine_options == {}


def test_a_second_llama_cpp_engine_is_warned_about(backend, caplog):
    backend("llamacpp")
    path = str(gguf_path())
    routing.close_engines()  # engines other tests left loaded would count as the first
    try:
        routing.get_engine("llamacpp", path, {"n_ctx": 256, "n_parallel": 1})
        with caplog.at_level("WARNING", logger=routing.__name__):
            routing.get_engine("llamacpp", path, {"n_ctx": 256, "n_parallel": 1})  # shared
            assert not caplog.records
            routing.get_engine("llamacpp", path, {"n_ctx": 512, "n_parallel": 1})
        assert "second llama.cpp engine" in caplog.text
    finally:
        routing.close_engines()
