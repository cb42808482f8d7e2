"""Where untrusted code runs: the :class:`Sandbox` protocol and its Docker and local backends.

Importing this package imports no docker module; backends import the SDK when started.
"""

from __future__ import annotations

from typing import Literal

from clade.sandbox.config import ExecResult, SandboxConfig
from clade.sandbox.docker_backend import DockerSandbox
from clade.sandbox.errors import ContainerStartError, ImageMissing, SandboxError, SandboxUnavailable
from clade.sandbox.fileset import FileSet, Skipped
from clade.sandbox.local_backend import LocalSandbox
from clade.sandbox.protocol import RunOptions, Sandbox, Workspace

Backend = Literal["docker", "local"]


def make_sandbox(config: SandboxConfig | None = None, backend: Backend = "docker") -> Sandbox:
    """A not yet started sandbox of ``backend``; ``local`` does not isolate (unsafe)."""
    if backend == "local":
        return LocalSandbox(config)
    return DockerSandbox(config)


__all__ = [
    "Backend",
    "ContainerStartError",
    "DockerSandbox",
    "ExecResult",
    "FileSet",
    "ImageMissing",
    "LocalSandbox",
    "RunOptions",
    "Sandbox",
    "SandboxConfig",
    "SandboxError",
    "SandboxUnavailable",
    "Skipped",
    "Workspace",
    "make_sandbox",
]
