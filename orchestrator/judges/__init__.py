"""Pairwise judges: vanilla, learning-while-evaluating (LWE) and selective LWE.

Importing this package imports no model library: judges call models through a
:class:`~clade.orchestrator.models.layer.ModelLayer` handed to them.
"""

from __future__ import annotations

from .verdict import Decision, Pair, Verdict, flip, parse_verdict

__all__ = ["Decision", "Pair", "Verdict", "flip", "parse_verdict"]
