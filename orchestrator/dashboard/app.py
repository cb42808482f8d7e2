"""The dashboard's Starlette application: ``create_app(archive)``.

Read-only by default: any method other than GET, HEAD or OPTIONS is refused before it
reaches a route. Every response carries a Content-Security-Policy that allows scripts and
styles from this server's ``/static`` only, a second guard (after Jinja2's autoescape) in
case agent-written text ever reaches a page unescaped. ``allowed_hosts`` (set by ``clade
serve`` on loopback) turns away requests for other host names (DNS rebinding).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import PlainTextResponse
from starlette.staticfiles import StaticFiles

from clade.orchestrator.dashboard.pages import routes

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from clade.archive.facade import Archive

HERE = Path(__file__).resolve().parent
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


class ReadOnlyMiddleware:
    """Refuses every request that could change something (405) when the app is read-only."""

    def __init__(self, app: ASGIApp, read_only: bool = True) -> None:
        self.app, self.read_only = app, read_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.read_only and scope["method"] not in SAFE_METHODS:
            response = PlainTextResponse(
                f"{scope['method']} refused: this dashboard is read-only",
                status_code=405,
                headers={"Allow": "GET, HEAD, OPTIONS"},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class SecurityHeadersMiddleware:
    """Adds :data:`SECURITY_HEADERS` to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def templates() -> Any:
    """Jinja2 templates with autoescape on and undefined names as errors."""
    import jinja2
    from starlette.templating import Jinja2Templates

    from clade.orchestrator.dashboard import filters

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(filters.FILTERS)
    return Jinja2Templates(env=env)


def create_app(
    archive: Archive,
    *,
    read_only: bool = True,
    allowed_hosts: list[str] | None = None,
    poll_interval_s: float = 2.0,
) -> Starlette:
    """The dashboard over ``archive``. It reads the archive on every request and never
    writes to it; ``poll_interval_s`` is how often a running run's page refreshes."""
    from clade.orchestrator.dashboard.pages import error_handlers

    middleware = [Middleware(SecurityHeadersMiddleware)]
    if allowed_hosts:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts))
    middleware.append(Middleware(ReadOnlyMiddleware, read_only=read_only))
    app = Starlette(
        routes=[*routes(), _static()],
        middleware=middleware,
        exception_handlers=error_handlers(),
    )
    app.state.archive = archive
    app.state.templates = templates()
    app.state.read_only = read_only
    app.state.poll_ms = max(200, round(poll_interval_s * 1000))
    return app


def _static() -> Any:
    from starlette.routing import Mount

    return Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static")
