"""The dashboard's Starlette application: ``create_app(archive)``.

Read-only by default: any method other than GET, HEAD or OPTIONS is refused before it
reaches a route. Every response carries a Content-Security-Policy that allows scripts and
styles from this server's ``/static`` only, a second guard (after Jinja2's autoescape) in
case agent-written text ever reaches a page unescaped. ``allowed_hosts`` (set by ``clade
serve`` on loopback) turns away requests for other host names (DNS rebinding).
"""

from __future__ import annotations

from collections.abc import Callable
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
#: What the dashboard of an empty archive tells its reader to run.
START_COMMAND = "clade run examples/run.yaml"
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


class PendingArchiveMiddleware:
    """While there is no archive yet (``clade serve`` before the first run), every page
    says how to start a run; once a run has made the archive, it is opened and served."""

    def __init__(self, app: ASGIApp, opener: Callable[[], Archive | None], where: str) -> None:
        self.app, self.opener, self.where = app, opener, where

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope["app"].state if "app" in scope else None
        if scope["type"] == "http" and state is not None and state.archive is None:
            state.archive = self.opener()
            if state.archive is None and not scope["path"].startswith("/static/"):
                await self._empty(scope, receive, send, state)
                return
        await self.app(scope, receive, send)

    async def _empty(self, scope: Scope, receive: Receive, send: Send, state: Any) -> None:
        from starlette.requests import Request
        from starlette.responses import JSONResponse

        request = Request(scope, receive)
        response: Any
        if scope["path"] == "/api/runs":
            response = JSONResponse([])
        elif scope["path"].startswith("/api/"):
            response = JSONResponse(
                {"error": "no archive yet", "hint": START_COMMAND}, status_code=404
            )
        else:
            context = {"read_only": state.read_only, "where": self.where, "command": START_COMMAND}
            status = 200 if scope["path"] == "/" else 404
            response = state.templates.TemplateResponse(
                request, "empty.html", context, status_code=status
            )
        await response(scope, receive, send)


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
    archive: Archive | None,
    *,
    read_only: bool = True,
    allowed_hosts: list[str] | None = None,
    poll_interval_s: float = 2.0,
    opener: Callable[[], Archive | None] | None = None,
    where: str = "",
) -> Starlette:
    """The dashboard over ``archive``. It reads the archive on every request and never
    writes to it; ``poll_interval_s`` is how often a running run's page refreshes.

    With ``archive=None``, ``opener`` is asked on each request until it returns the
    archive (None while there is none at ``where`` yet); until then every page shows
    how to start a run."""
    from clade.orchestrator.dashboard.pages import error_handlers

    middleware = [Middleware(SecurityHeadersMiddleware)]
    if allowed_hosts:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts))
    middleware.append(Middleware(ReadOnlyMiddleware, read_only=read_only))
    if archive is None:
        middleware.append(
            Middleware(PendingArchiveMiddleware, opener=opener or (lambda: None), where=where)
        )
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
