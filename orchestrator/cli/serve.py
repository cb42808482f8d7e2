"""`clade serve`: the web dashboard of the archive (runs, lineage trees, candidates, judges).

Read-only and bound to loopback by default. A host that is not loopback is refused unless
``--allow-remote`` is given, and then a warning says that anyone who can reach the port can
read every run. Starlette and uvicorn are imported inside the command.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

import typer

from clade.archive.errors import ConfigError

from .archive import BlobsOption, DbOption, open_archive_at

if TYPE_CHECKING:
    pass

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def is_loopback(host: str) -> bool:
    """Whether binding to ``host`` keeps the server on this machine."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (loopback by default)."),
    port: int = typer.Option(8765, "--port", min=0, max=65535, help="Port to listen on."),
    allow_remote: bool = typer.Option(
        False, "--allow-remote", help="Allow a host that is not loopback (exposes every run)."
    ),
    db: DbOption = None,
    blobs: BlobsOption = None,
    poll: float = typer.Option(
        2.0, "--poll", min=0.2, help="Seconds between refreshes of a running run's page."
    ),
) -> None:
    """Serve the dashboard: runs, lineage trees, candidates, diffs, judges (read-only)."""
    loopback = is_loopback(host)
    if not loopback and not allow_remote:
        raise ConfigError(
            f"refusing to serve the archive on {host}, which is not a loopback address",
            hint="agents' outputs and prompts would be readable by anyone who reaches the port; "
            "pass --allow-remote if that is what you want",
        )
    import uvicorn

    from clade.orchestrator.dashboard.app import create_app

    if not loopback:
        typer.secho(
            f"WARNING: serving on {host}:{port}, not loopback: anyone who can reach this port "
            "can read every run, prompt and agent output in the archive.",
            err=True,
            fg=typer.colors.YELLOW,
            bold=True,
        )
    archive = open_archive_at(db, blobs)
    allowed = None if not loopback else [*LOOPBACK_NAMES, host]
    app = create_app(archive, read_only=True, allowed_hosts=allowed, poll_interval_s=poll)
    shown = f"[{host}]" if ":" in host else host
    typer.echo(f"clade dashboard on http://{shown}:{port}/  (read-only; Ctrl-C stops it)")
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        archive.close()


def register(app: typer.Typer) -> None:
    """Add the `serve` command to `app`."""
    app.command()(serve)
