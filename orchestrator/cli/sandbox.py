"""`clade sandbox ...`: not written yet (see the sandbox issue)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the `sandbox` command group to `app`."""
