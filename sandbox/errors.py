"""Typed errors of the sandbox; each is a :class:`CladeError` with the fix as its hint."""

from __future__ import annotations

from clade.archive.errors import CladeError, InfrastructureError

__all__ = ["ContainerStartError", "ImageMissing", "SandboxError", "SandboxUnavailable"]


class SandboxError(CladeError):
    """The sandbox could not do what was asked (not a failure of the code run inside it)."""


class SandboxUnavailable(SandboxError, InfrastructureError):
    """No Docker engine answers (the machine's failure, never a verdict on a candidate)."""


class ImageMissing(SandboxError):
    """The sandbox image does not exist on this engine."""


class ContainerStartError(SandboxError):
    """The engine refused to create or start the container."""
