"""Which failed attempts of a model call are retried, and how long to wait before the next.

A missing (or broken) optional module, wherever its import fails (an engine's load, a
generation, a provider of litellm's), is a setup problem: never retried, and raised as a
:class:`SetupError` naming the module, with the install hint (:func:`missing_dependency`).
"""

from __future__ import annotations

import re

from clade.orchestrator.errors import SetupError
from clade.orchestrator.models.spec import RetryPolicy

__all__ = ["backoff", "classify", "missing_dependency"]

_NO_MODULE = re.compile(r"No module named '([\w.]+)'")


def classify(exc: BaseException) -> tuple[str, bool]:
    """(kind, transient) of a failed attempt; transient faults are retried."""
    import litellm

    if getattr(exc, "clade_error", None) is not None:
        return type(exc.clade_error).__name__, False  # type: ignore[attr-defined]
    if _missing_module(exc) is not None:  # a setup problem: no retry makes it appear
        return "missing_dependency", False
    transient: list[tuple[type[BaseException], str]] = [
        (litellm.Timeout, "timeout"),
        (litellm.RateLimitError, "rate_limit"),
        (litellm.ServiceUnavailableError, "server_error"),
        (litellm.InternalServerError, "server_error"),
        (litellm.BadGatewayError, "server_error"),
        (litellm.APIConnectionError, "connection"),
    ]
    for cls, kind in transient:
        if isinstance(exc, cls):
            text = str(exc)
            if kind == "server_error" and any(
                w in text for w in ("JSON", "Expecting", "Unterminated")
            ):
                kind = "malformed_response"
            return kind, True
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and status >= 500:
        return "server_error", True
    return type(exc).__name__, False


def _missing_module(exc: BaseException) -> ImportError | None:
    """The failed import in ``exc`` or its causes (one rebuilt from the message when a
    wrapper kept only the text), or None."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ImportError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    named = _NO_MODULE.search(str(exc))
    return ModuleNotFoundError(named[0], name=named[1]) if named else None


def missing_dependency(exc: BaseException, model: str) -> SetupError | None:
    """The setup error for a call to ``model`` that failed on a missing or broken module
    (one line: the module and why; the hint installs it), or None if no import failed."""
    missing = _missing_module(exc)
    if missing is None:
        return None
    named = missing.name or ""
    why = (str(missing).splitlines() or [type(missing).__name__])[0][:200]
    if isinstance(missing, ModuleNotFoundError) and named:
        what = f"module {named!r} is not installed"
    else:
        what = (
            f"module {named!r} cannot be imported: {why}" if named else f"an import failed: {why}"
        )
    return SetupError(f"{model} cannot be called: {what}", hint=install_hint(named))


def install_hint(module: str) -> str:
    """How to install what provides ``module`` (a local backend's extra, or the package)."""
    from clade.orchestrator.models.llamacpp_server import INSTALL_HINT
    from clade.orchestrator.models.routing import TRANSFORMERS_HINT

    top = module.split(".")[0]
    if top in {"torch", "transformers", "accelerate", "gguf", "safetensors"}:
        return TRANSFORMERS_HINT
    if top == "xllamacpp":
        return INSTALL_HINT
    if top:
        return f"install it: pip install {top} (or run `make setup`)"
    return "reinstall Clade's dependencies: run `make setup`"


def backoff(policy: RetryPolicy, attempt: int) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
    return float(min(policy.max_backoff_s, policy.backoff_s * 2 ** (attempt - 1)))
