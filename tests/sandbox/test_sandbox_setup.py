"""Images, `clade sandbox` commands, prune, and bad input: one clear line, no orphans."""

from __future__ import annotations

import contextlib
import os

import docker
import pytest
from typer.testing import CliRunner

from clade.orchestrator.cli import app
from clade.sandbox import (
    ContainerStartError,
    DockerSandbox,
    ImageMissing,
    SandboxConfig,
    SandboxUnavailable,
)

pytestmark = pytest.mark.docker


def _containers(run_id: str) -> list[str]:
    client = docker.from_env()
    try:
        return [
            c.name
            for c in client.containers.list(all=True, filters={"label": f"clade.run={run_id}"})
        ]
    finally:
        client.close()


def test_no_engine_is_one_line_with_the_fix(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(SandboxUnavailable) as caught:
        DockerSandbox(SandboxConfig()).start()
    assert "make setup" in (caught.value.hint or "")
    result = CliRunner().invoke(app, ["sandbox", "run", "true"])
    assert result.exit_code != 0


def test_missing_image_leaves_no_container(run_id):
    config = SandboxConfig(image="clade-no-such-image:1", run_id=run_id)
    with pytest.raises(ImageMissing, match="not found") as caught:
        DockerSandbox(config).start()
    assert "clade sandbox build" in (caught.value.hint or "")
    assert _containers(run_id) == []


def test_container_that_cannot_start_leaves_no_container(agent_image, run_id):
    # More CPUs than exist: the engine refuses at start. (`model_copy` does not validate, so
    # this goes past SandboxConfig's own cap on any machine.)
    config = SandboxConfig(image=agent_image, run_id=run_id).model_copy(
        update={"cpus": (os.cpu_count() or 1) + 1}
    )
    with pytest.raises(ContainerStartError):
        DockerSandbox(config).start()
    assert _containers(run_id) == []


def test_build_tags_by_input_hash(tmp_path):
    from clade.orchestrator.config import settings
    from clade.sandbox.images import DOCKERFILE, build_agent_image

    base = settings().base_image
    first = build_agent_image(base)
    again = build_agent_image(base)
    assert again.tag == first.tag and not again.built
    changed = tmp_path / "Dockerfile"
    changed.write_bytes(DOCKERFILE.read_bytes() + b"\nLABEL clade.test=changed\n")
    client = docker.from_env()
    try:
        other = build_agent_image(base, dockerfile=changed, client=client)
        assert other.built and other.tag != first.tag
        client.images.remove(other.tag)
        build_agent_image(base, client=client)  # point clade-agent:latest back
    finally:
        client.close()


def test_cli_build_is_a_no_op_when_up_to_date():
    result = CliRunner().invoke(app, ["sandbox", "build"])
    assert result.exit_code == 0 and "up to date" in result.output


def test_prune_removes_only_containers_of_dead_owners(agent_image, run_id):
    from clade.sandbox.owner import LABEL, OWNER_LABEL, RUN_LABEL, owner_label

    client = docker.from_env()
    dead = owner_label().rsplit("/", 2)[0] + "/999999999/1"
    made = {
        "dead": {LABEL: "1", RUN_LABEL: run_id, OWNER_LABEL: dead},
        "alive": {LABEL: "1", RUN_LABEL: run_id, OWNER_LABEL: owner_label()},
        "foreign": {LABEL: "1", RUN_LABEL: run_id, OWNER_LABEL: "elsewhere/1/1"},
        "unlabelled": {"clade.test.run": run_id},
    }
    ids = {}
    try:
        for name, labels in made.items():
            ids[name] = client.containers.create(agent_image, ["true"], labels=labels).id
        result = CliRunner().invoke(app, ["sandbox", "prune"])
        assert result.exit_code == 0, result.output
        left = {c.id for c in client.containers.list(all=True)}
        assert ids["dead"] not in left
        assert {ids["alive"], ids["foreign"], ids["unlabelled"]} <= left
    finally:
        for cid in ids.values():
            with contextlib.suppress(docker.errors.NotFound):
                client.containers.get(cid).remove(force=True)
        client.close()


def test_cli_run_reports_the_reason(agent_image):
    ok = CliRunner().invoke(app, ["sandbox", "run", "--image", agent_image, "--", "echo", "hi"])
    assert ok.exit_code == 0 and "hi" in ok.output
    late = ["sandbox", "run", "--image", agent_image, "--timeout", "1", "--", "sleep", "30"]
    result = CliRunner().invoke(app, late)
    assert result.exit_code == 1 and "timed out" in result.output


def test_a_container_that_died_is_restarted_and_reported(agent_image, run_id):
    from .conftest import SMALL

    with DockerSandbox(SandboxConfig(image=agent_image, run_id=run_id, **SMALL)) as sb:
        sb.put_files({"lost.txt": b"x"})
        client = docker.from_env()
        try:
            client.containers.get(sb.container_id).kill()  # as if PID 1 were OOM-killed
        finally:
            client.close()
        result = sb.run(["true"])
        assert not result.ok and "restarted (work dir lost)" in (result.reason or "")
        assert sb.run(["ls"]).ok and sb.restarts == 1
        assert sb.get_files(".") == {}
