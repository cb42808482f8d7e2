"""Typed errors of the orchestrator; every one derives from :class:`CladeError`."""

from __future__ import annotations

from clade.archive.errors import CladeError, ConfigError

__all__ = ["CladeError", "ConfigError", "SetupError"]


class SetupError(CladeError):
    """Something the machine needs (Docker engine, image, model package) is missing."""
