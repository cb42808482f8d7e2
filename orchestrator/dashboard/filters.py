"""Jinja2 filters of the dashboard's templates: scores, money, times, short ids."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any


def score(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def usd(value: float | None) -> str:
    return "-" if value is None else f"${value:.4f}"


def when(value: datetime | None) -> str:
    return "-" if value is None else f"{value:%Y-%m-%d %H:%M:%S}"


def short(value: str | None) -> str:
    return "-" if value is None else value[:10]


def score_class(value: float | None) -> str:
    if value is None:
        return "none"
    return "good" if value >= 0.7 else "fair" if value >= 0.4 else "poor"


FILTERS: dict[str, Callable[..., Any]] = {
    "score": score,
    "usd": usd,
    "when": when,
    "short": short,
    "score_class": score_class,
}
