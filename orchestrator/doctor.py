"""Checks that this machine can run Clade, each with the fix when it fails."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass

from clade.archive.errors import CladeError
from clade.orchestrator.config import settings


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


def _check_python() -> CheckResult:
    version = ".".join(map(str, sys.version_info[:3]))
    ok = sys.version_info >= (3, 11)
    return CheckResult("python", ok, version, "" if ok else "install Python 3.11 or newer")


def _check_docker() -> CheckResult:
    try:
        import docker

        client = docker.from_env(timeout=5)
        client.ping()
        version = client.version().get("Version", "?")
    except Exception as exc:
        return CheckResult(
            "docker engine",
            False,
            f"not reachable: {type(exc).__name__}",
            "run `make setup` as root (installs docker.io and starts dockerd), or start Docker and "
            "add your user to the docker group",
        )
    return CheckResult("docker engine", True, f"Docker {version}")


def _check_base_image() -> CheckResult:
    image = settings().base_image
    try:
        import docker

        docker.from_env(timeout=5).images.get(image)
    except Exception as exc:
        return CheckResult(
            "sandbox base image",
            False,
            f"{image}: {type(exc).__name__}",
            "build it with `bash scripts/build-base-image.sh` (part of `make setup`)",
        )
    from clade.sandbox.images import agent_image_status

    current, detail = agent_image_status(image)
    if not current:
        return CheckResult(
            "sandbox base image",
            False,
            f"{image}; agent image {detail}",
            "build it with `clade sandbox build` (part of `make setup`)",
        )
    return CheckResult("sandbox base image", True, f"{image}; agent image {detail}")


def _check_module(name: str, label: str, fix: str, required: bool = True) -> CheckResult:
    if importlib.util.find_spec(name) is None:
        return CheckResult(label, False, "not installed", fix, required)
    from importlib.metadata import PackageNotFoundError, version

    try:
        detail = version(name.replace("_", "-"))
    except PackageNotFoundError:
        detail = "installed"
    return CheckResult(label, True, detail, required=required)


def _check_litellm() -> CheckResult:
    return _check_module("litellm", "litellm", "pip install -e '.[dev]' (or `make setup`)")


def _check_local_backend() -> CheckResult:
    has_torch = (
        importlib.util.find_spec("transformers") is not None
        and importlib.util.find_spec("torch") is not None
    )
    has_llamacpp = importlib.util.find_spec("xllamacpp") is not None
    engines = [
        name
        for name, present in (("transformers", has_torch), ("llama.cpp", has_llamacpp))
        if present
    ]
    if not engines:
        return CheckResult(
            "local model engine",
            False,
            "neither transformers nor llama.cpp",
            "run `make setup` (installs .[local])",
        )
    from clade.orchestrator.models.embedded import EMBEDDED_ALIAS
    from clade.orchestrator.models.routing import local_backend

    chosen = {"llamacpp": "llama.cpp"}.get(local_backend(), "transformers")
    detail = f"{', '.join(engines)}; {EMBEDDED_ALIAS} runs on {chosen} (local_backend={settings().local_backend})"
    if chosen not in engines:
        return CheckResult(
            "local model engine",
            False,
            detail + ", which is not installed",
            "install it (`pip install 'clade-agents[llamacpp]'` or `.[local]`) or set "
            "CLADE_LOCAL_BACKEND=auto",
        )
    return CheckResult("local model engine", True, detail)


def _check_accelerator() -> CheckResult:
    if importlib.util.find_spec("torch") is None:
        return CheckResult("accelerator", True, "CPU (torch not installed)", required=False)
    import torch

    if torch.cuda.is_available():
        return CheckResult(
            "accelerator", True, f"CUDA: {torch.cuda.get_device_name(0)}", required=False
        )
    return CheckResult("accelerator", True, "CPU only", required=False)


def _check_embedded_model(load: bool) -> Callable[[], CheckResult]:
    def check() -> CheckResult:
        from clade.orchestrator.models.embedded import EMBEDDED_ALIAS, gguf_path

        try:
            path = gguf_path()
        except CladeError as exc:
            return CheckResult("embedded model", False, exc.message, exc.hint or "")
        detail = f"{EMBEDDED_ALIAS}: {path.name} ({path.stat().st_size / 1e6:.0f} MB)"
        if not load:
            return CheckResult("embedded model", True, detail + "; `--load` to load it")
        try:
            detail += "; " + _load_and_generate()
        except Exception as exc:
            return CheckResult("embedded model", False, f"load failed: {exc}", "run `make setup`")
        return CheckResult("embedded model", True, detail)

    return check


def _load_and_generate() -> str:
    """Load the embedded model through the model layer and generate a few tokens."""
    from clade.orchestrator.models import probe_embedded

    return probe_embedded()


def run_checks(load: bool = False) -> list[CheckResult]:
    checks: list[Callable[[], CheckResult]] = [
        _check_python,
        _check_docker,
        _check_base_image,
        _check_litellm,
        _check_local_backend,
        _check_embedded_model(load),
        _check_accelerator,
    ]
    return [check() for check in checks]
