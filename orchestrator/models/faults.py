"""Which failed attempts of a model call are retried, and how long to wait before the next."""

from __future__ import annotations

from clade.orchestrator.models.spec import RetryPolicy

__all__ = ["backoff", "classify"]


def classify(exc: BaseException) -> tuple[str, bool]:
    """(kind, transient) of a failed attempt; transient faults are retried."""
    import litellm

    if getattr(exc, "clade_error", None) is not None:
        return type(exc.clade_error).__name__, False  # type: ignore[attr-defined]
    if _missing_module(exc):  # a setup problem: no retry makes it appear
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


def _missing_module(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ImportError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return "No module named" in str(exc)


def backoff(policy: RetryPolicy, attempt: int) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
    return float(min(policy.max_backoff_s, policy.backoff_s * 2 ** (attempt - 1)))
