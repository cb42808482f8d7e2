"""`clade archive ...`: not written yet (see the archive issue)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the `archive` command group to `app`."""
