"""Build the agent image from ``sandbox/Dockerfile`` on a configurable base.

The tag is ``clade-agent:<hash>``, the hash covering the Dockerfile and the base image's
id, so a changed Dockerfile (or a rebuilt base) builds anew and an unchanged one does not.
``clade-agent:latest`` points at the last build.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clade.sandbox.docker_backend import docker_client
from clade.sandbox.errors import ImageMissing, SandboxError

REPOSITORY = "clade-agent"
LATEST = f"{REPOSITORY}:latest"
DOCKERFILE = Path(__file__).with_name("Dockerfile")


@dataclass(frozen=True)
class BuildResult:
    """The image a build produced or found."""

    tag: str
    built: bool


def image_tag(dockerfile: bytes, base_id: str) -> str:
    """``clade-agent:<first 12 hex of sha256(dockerfile, base id)>``."""
    digest = hashlib.sha256(dockerfile + b"\0" + base_id.encode()).hexdigest()[:12]
    return f"{REPOSITORY}:{digest}"


def _context(dockerfile: bytes) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
    buf.seek(0)
    return buf


def build_agent_image(
    base_image: str, *, dockerfile: Path = DOCKERFILE, client: Any = None
) -> BuildResult:
    """Build (or find) the agent image on ``base_image``; tag it ``clade-agent:latest`` too."""
    import docker

    client = client or docker_client()
    try:
        base = client.images.get(base_image)
    except docker.errors.ImageNotFound as exc:
        raise ImageMissing(
            f"base image {base_image} not found",
            hint="build it with `bash scripts/build-base-image.sh` (part of `make setup`)",
        ) from exc
    text = dockerfile.read_bytes()
    tag = image_tag(text, base.id)
    try:
        image = client.images.get(tag)
        built = False
    except docker.errors.ImageNotFound:
        try:
            image, _ = client.images.build(
                fileobj=_context(text),
                custom_context=True,
                tag=tag,
                buildargs={"BASE_IMAGE": base_image},
                labels={"clade.image": "agent", "clade.base": base_image},
                rm=True,
                forcerm=True,
                network_mode="none",
            )
        except docker.errors.BuildError as exc:
            lines = [str(c.get("stream") or c.get("error") or "").strip() for c in exc.build_log]
            tail = next((line for line in reversed(lines) if line), str(exc))
            raise SandboxError(
                f"building {tag} failed: {tail}", hint=f"check {dockerfile} and the base image"
            ) from exc
        built = True
    image.tag(REPOSITORY, "latest")
    return BuildResult(tag, built)


def agent_image_status(base_image: str) -> tuple[bool, str]:
    """(up to date, detail) of the agent image for ``base_image``, without building."""
    import docker

    client = docker_client(timeout=5)
    try:
        base = client.images.get(base_image)
        tag = image_tag(DOCKERFILE.read_bytes(), base.id)
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False, "missing or out of date"
    finally:
        client.close()
    return True, tag
