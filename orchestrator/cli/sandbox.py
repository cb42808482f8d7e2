"""`clade sandbox build|prune|run`: the agent image, leftover containers, a quick try-out."""

from __future__ import annotations

from typing import Annotated

import typer

sandbox_app = typer.Typer(
    name="sandbox",
    help="The Docker sandbox: build its image, remove leftovers of dead runs, try a command.",
    no_args_is_help=True,
)


@sandbox_app.command()
def build(
    base: Annotated[
        str | None,
        typer.Option(help="Base image (default: CLADE_BASE_IMAGE, clade-base:bookworm)."),
    ] = None,
) -> None:
    """Build the agent image from sandbox/Dockerfile; does nothing when it is up to date."""
    from clade.orchestrator.config import settings
    from clade.sandbox.images import LATEST, build_agent_image

    result = build_agent_image(base or settings().base_image)
    verb = "built" if result.built else "up to date"
    typer.echo(f"agent image {result.tag}: {verb} (also tagged {LATEST})")


@sandbox_app.command()
def prune(
    dry_run: Annotated[bool, typer.Option(help="Only list what would be removed.")] = False,
) -> None:
    """Remove what dead Clade processes left: sandbox containers and model socket folders."""
    from clade.sandbox.docker_backend import docker_client
    from clade.sandbox.owner import prune as prune_containers
    from clade.sandbox.sockets import prune_socket_dirs

    verb = "would remove" if dry_run else "removed"
    folders = prune_socket_dirs(dry_run=dry_run)
    typer.echo(f"{verb} {len(folders)} socket folder(s) of dead runs")
    for folder in folders:
        typer.echo(f"  {folder}")
    client = docker_client()
    try:
        report = prune_containers(client, dry_run=dry_run)
    finally:
        client.close()
    typer.echo(f"{verb} {len(report.removed)} container(s) of dead runs")
    for name in report.removed:
        typer.echo(f"  {name}")
    if report.kept_alive:
        typer.echo(f"kept {len(report.kept_alive)} of live runs")
    if report.kept_foreign:
        typer.echo(f"kept {len(report.kept_foreign)} created on other hosts")


@sandbox_app.command(context_settings={"allow_interspersed_args": False})
def run(
    cmd: Annotated[list[str], typer.Argument(help="The command and its arguments.")],
    timeout: Annotated[float, typer.Option(help="Wall-clock limit in seconds.")] = 60.0,
    memory_mb: Annotated[int, typer.Option(help="Memory limit in MiB.")] = 1024,
    image: Annotated[str, typer.Option(help="Sandbox image.")] = "clade-agent:latest",
    backend: Annotated[
        str, typer.Option(help="docker, or local (UNSAFE: no isolation at all).")
    ] = "docker",
) -> None:
    """Run one command in a fresh sandbox and print its output and verdict."""
    from clade.orchestrator.errors import ConfigError
    from clade.sandbox import SandboxConfig, make_sandbox

    if backend not in ("docker", "local"):
        raise ConfigError(f"unknown backend {backend!r}", hint="use docker or local")
    if backend == "local":
        typer.secho("warning: the local backend is UNSAFE (no isolation)", err=True, fg="yellow")
    config = SandboxConfig(image=image, memory_mb=memory_mb, timeout_s=timeout)
    with make_sandbox(config, "local" if backend == "local" else "docker") as sandbox:
        result = sandbox.run(cmd)
    typer.echo(result.stdout, nl=False)
    typer.echo(result.stderr, nl=False, err=True)
    if not result.ok:
        typer.secho(f"sandbox: {result.reason}", err=True, fg="red")
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the `sandbox` command group to `app`."""
    app.add_typer(sandbox_app)
