"""Find an evaluator by short name, entry point, or import path, and configure it.

``humaneval`` (a built-in), ``mybench`` (a package's ``clade.evaluators`` entry point) and
``mypkg.bench:MyEvaluator`` (an import path) all resolve the same way, so a user's plugin
and a built-in look alike.

Options: a class that defines ``Config`` (a pydantic model, ``extra="forbid"``) gets its
options validated into one ``Config`` instance, passed as the single positional argument
(the constructor must also work with no argument: the defaults). A class without
``Config`` gets the options as keyword arguments, so a simple plugin stays simple.
Listing never imports an evaluator; only loading or showing one does.
"""

from __future__ import annotations

import importlib
import types
from importlib.metadata import entry_points
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from clade.archive.errors import ConfigError

from .base import Evaluator

ENTRY_POINT_GROUP = "clade.evaluators"

BUILTINS: dict[str, str] = {
    "humaneval": "clade.orchestrator.evaluators.humaneval:HumanEval",
    "game24": "clade.orchestrator.evaluators.generated:Game24",
    "word-sorting": "clade.orchestrator.evaluators.generated:WordSorting",
    "multistep-arithmetic": "clade.orchestrator.evaluators.generated:MultistepArithmetic",
    "repo-bugfix": "clade.orchestrator.evaluators.repo_bugfix:RepoBugfix",
    "judge": "clade.orchestrator.judges.evaluator:JudgeEvaluator",
    "judge-gold": "clade.orchestrator.judges.gold_tasks:GoldTasks",
}


def available() -> dict[str, str]:
    """Every evaluator name this process can load, with the import path it points to."""
    found = dict(BUILTINS)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep.value)
    return found


def resolve(spec: str) -> str:
    """The import path (``module:Class``) that ``spec`` names."""
    known = available()
    if spec in known:
        return known[spec]
    if ":" in spec:
        return spec
    raise ConfigError(
        f"unknown evaluator {spec!r}",
        hint=f"known: {', '.join(sorted(known))}; or give an import path like mypkg.bench:MyEvaluator",
    )


def evaluator_factory(spec: str) -> Any:
    """The class (or factory) ``spec`` names, imported but not built."""
    path = resolve(spec)
    module_name, _, attr = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"cannot import evaluator module {module_name!r}: {exc}",
            hint="check the name, and that the package providing it is installed",
        ) from exc
    except Exception as exc:  # a plugin whose module raises on import
        raise ConfigError(
            f"evaluator module {module_name!r} failed to import: {type(exc).__name__}: {exc}"
        ) from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ConfigError(f"module {module_name!r} has no evaluator {attr!r}") from None


def config_model(factory: Any) -> type[BaseModel] | None:
    """The evaluator's ``Config`` class, when it declares one."""
    config = getattr(factory, "Config", None)
    return config if isinstance(config, type) and issubclass(config, BaseModel) else None


def _type_name(annotation: Any) -> str:
    if annotation is type(None):
        return "None"
    if isinstance(annotation, type) and get_origin(annotation) is None:
        return annotation.__name__
    if get_origin(annotation) in (types.UnionType,):
        return " | ".join(_type_name(a) for a in get_args(annotation))
    return str(annotation).replace("typing.", "")


def describe_config(model: type[BaseModel]) -> list[dict[str, str]]:
    """One row per option: name, type, default and description, for `clade evaluators show`."""
    rows = []
    for name, field in model.model_fields.items():
        default = (
            "(required)"
            if field.is_required()
            else repr(field.get_default(call_default_factory=True))
        )
        rows.append(
            {
                "name": name,
                "type": _type_name(field.annotation),
                "default": default,
                "description": field.description or "",
            }
        )
    return rows


def _validate(spec: str, model: type[BaseModel], options: dict[str, Any]) -> BaseModel:
    try:
        return model.model_validate(options)
    except ValidationError as exc:
        allowed = ", ".join(model.model_fields) or "none"
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'options'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(
            f"bad options for evaluator {spec!r}: {problems}", hint=f"allowed options: {allowed}"
        ) from None


def load_evaluator(spec: str, **options: Any) -> Evaluator:
    """The evaluator named ``spec`` (short name or ``module:Class``), built with ``options``."""
    factory = evaluator_factory(spec)
    model = config_model(factory)
    try:
        if model is not None:
            evaluator = factory(_validate(spec, model, options))
        else:
            evaluator = factory(**options)
    except ConfigError:
        raise
    except TypeError as exc:
        raise ConfigError(f"bad options for evaluator {spec!r}: {exc}") from exc
    except Exception as exc:
        raise ConfigError(
            f"evaluator {spec!r} failed to start: {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(evaluator, Evaluator):
        raise ConfigError(
            f"{resolve(spec)} is not an evaluator: it needs a name, tasks(split) and score(...)"
        )
    return evaluator
