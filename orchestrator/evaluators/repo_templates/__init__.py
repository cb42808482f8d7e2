"""Templates of small buggy Python repositories for the ``repo-bugfix`` evaluator.

Each template is a function ``render(rng) -> Repo``: a package of one to three modules
with one planted bug, an issue describing the symptom, a visible failing test, hidden
tests (more cases than the visible ones, expected values computed here on the host) and
the reference fix. The seed varies names and constants, so one template gives many tasks.
"""

from __future__ import annotations

from collections.abc import Callable
from random import Random

from ._common import Repo
from .data import formatting, merge_precedence, mutable_default, rounding
from .logic import pagination, parser, swapped_args, validator

TEMPLATES: dict[str, Callable[[Random], Repo]] = {
    "pagination": pagination,
    "validator": validator,
    "parser": parser,
    "swapped-args": swapped_args,
    "mutable-default": mutable_default,
    "rounding": rounding,
    "formatting": formatting,
    "merge-precedence": merge_precedence,
}

__all__ = ["TEMPLATES", "Repo"]
