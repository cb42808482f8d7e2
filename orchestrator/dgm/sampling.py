"""How the steps that make a child sample, so that siblings differ.

Children of one generation are distinct by construction: each child's diagnosis is shown
a failure chosen by its key (siblings of one parent get different failures while there are
enough), and diagnosis and self-modification sample with a seed derived from the run's seed
and the child's key, at a temperature above 0 by default. At temperature 0 the seed does
nothing: a parent drawn twice then differs only by the failure it is shown.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")
_KEY = re.compile(r"g(\d+)c(\d+)")


class RoleSampling(BaseModel):
    """Sampling of one step that makes children."""

    model_config = ConfigDict(extra="forbid")

    temperature: float | None = Field(
        default=None, ge=0.0, description="Sampling temperature; None: the role's (models:)."
    )
    seed: int | Literal["auto"] | None = Field(
        default="auto",
        description="Sampling seed; auto: derived from the run's seed and the child's key, so "
        "every child samples differently and a replayed run samples the same; None: the role's.",
    )


class ChildSampling(BaseModel):
    """Per-role sampling of the steps that make a child (run option ``sampling``)."""

    model_config = ConfigDict(extra="forbid")

    diagnose: RoleSampling = Field(
        default_factory=lambda: RoleSampling(temperature=0.7),
        description="The diagnosis that proposes each child's change (role diagnose).",
    )
    self_modify: RoleSampling = Field(
        default_factory=lambda: RoleSampling(temperature=0.7),
        description="The parent agent rewriting its own code (role agent, in its sandbox).",
    )


def child_seed(run_seed: int, key: str, step: str) -> int:
    """A stable 31-bit seed for ``step`` of the child ``key`` in a run seeded ``run_seed``."""
    digest = hashlib.sha256(f"{run_seed}:{key}:{step}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def params(sampling: RoleSampling, run_seed: int, key: str, step: str) -> dict[str, Any]:
    """Keyword arguments for the model call (temperature, seed), only those set."""
    out: dict[str, Any] = {}
    if sampling.temperature is not None:
        out["temperature"] = sampling.temperature
    if sampling.seed == "auto":
        out["seed"] = child_seed(run_seed, key, step)
    elif sampling.seed is not None:
        out["seed"] = sampling.seed
    return out


def pick(items: Sequence[T], run_seed: int, parent_id: str, key: str) -> T:
    """The item a child sees: children ``g<n>c<i>`` of one parent in one generation take
    consecutive items from a start drawn by (run seed, generation, parent), so siblings see
    different ones while there are as many items as siblings."""
    return pick_many(items, run_seed, parent_id, key, 1)[0]


def pick_many(
    items: Sequence[T], run_seed: int, parent_id: str, key: str, n: int, rotate: bool = True
) -> list[T]:
    """``n`` consecutive items (at most all of them) from where child ``key`` starts: as
    :func:`pick`, or with ``rotate`` False from the first item plus the child's index."""
    if not items:
        raise ValueError("nothing to pick from")
    match = _KEY.fullmatch(key)
    generation, index = (match.group(1), int(match.group(2))) if match else (key, 0)
    start = child_seed(run_seed, f"{generation}:{parent_id}", "failure") if rotate else 0
    return [items[(start + index + j) % len(items)] for j in range(min(n, len(items)))]
