"""Find an evaluator by short name, entry point, or import path.

``humaneval`` (a built-in), ``mybench`` (a package's ``clade.evaluators`` entry point) and
``mypkg.bench:MyEvaluator`` (an import path) all resolve the same way, so a user's plugin
and a built-in look alike. Options are passed to the evaluator's constructor.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

from clade.archive.errors import ConfigError

from .base import Evaluator

ENTRY_POINT_GROUP = "clade.evaluators"

BUILTINS: dict[str, str] = {
    "humaneval": "clade.orchestrator.evaluators.humaneval:HumanEval",
    "game24": "clade.orchestrator.evaluators.generated:Game24",
    "word-sorting": "clade.orchestrator.evaluators.generated:WordSorting",
    "multistep-arithmetic": "clade.orchestrator.evaluators.generated:MultistepArithmetic",
}


def available() -> dict[str, str]:
    """Every evaluator name this process can load, with the import path it points to."""
    found = dict(BUILTINS)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep.value)
    return found


def _import(path: str) -> Any:
    module_name, _, attr = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot import evaluator module {module_name!r}: {exc}") from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ConfigError(f"module {module_name!r} has no evaluator {attr!r}") from None


def load_evaluator(spec: str, **options: Any) -> Evaluator:
    """The evaluator named ``spec`` (short name or ``module:Class``), built with ``options``."""
    known = available()
    if spec in known:
        path = known[spec]
    elif ":" in spec:
        path = spec
    else:
        raise ConfigError(
            f"unknown evaluator {spec!r}",
            hint=f"known: {', '.join(sorted(known))}; or give an import path like mypkg.bench:MyEvaluator",
        )
    factory = _import(path)
    try:
        evaluator = factory(**options)
    except TypeError as exc:
        raise ConfigError(f"bad options for evaluator {spec!r}: {exc}") from exc
    except Exception as exc:
        raise ConfigError(
            f"evaluator {spec!r} failed to start: {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(evaluator, Evaluator):
        raise ConfigError(
            f"{path} is not an evaluator: it needs a name, tasks(split) and score(...)"
        )
    return evaluator
