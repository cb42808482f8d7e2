"""The dashboard's routes: HTML pages, the run page's live fragment, and a small JSON API.

Ids may be given as unambiguous prefixes, as on the command line. An unknown id is a 404
whose page (or JSON body under ``/api``) says what was not found and where to look.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from clade.archive.errors import (
    AmbiguousIdError,
    ArchiveError,
    CladeError,
    MissingBlobError,
    UnknownIdError,
)

if TYPE_CHECKING:
    from starlette.requests import Request

    from clade.archive.facade import Archive

_HASH = re.compile(r"^[0-9a-f]{64}$")
NOT_FOUND = (UnknownIdError, AmbiguousIdError, MissingBlobError)


def _archive(request: Request) -> Archive:
    archive: Archive = request.app.state.archive
    return archive


def _render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    context = {"read_only": request.app.state.read_only, **context}
    response: Response = request.app.state.templates.TemplateResponse(
        request, name, context, status_code=status
    )
    return response


def _run_id(request: Request) -> str:
    return _archive(request).resolve_id(request.path_params["run_id"], "run")


# -- pages ------------------------------------------------------------------------------
def runs_list(request: Request) -> Response:
    archive = _archive(request)
    judges = {v.name for v in archive.meta_prompt_versions(kind="judge")}
    return _render(request, "runs.html", {"runs": archive.list_runs(), "judges": sorted(judges)})


def run_detail(request: Request) -> Response:
    from clade.orchestrator.dashboard.runs import run_page

    context = run_page(_archive(request), _run_id(request))
    return _render(request, "run.html", {**context, "poll_ms": request.app.state.poll_ms})


def run_live(request: Request) -> Response:
    """The part of a run's page that changes while it runs (tree, charts, tables)."""
    from clade.orchestrator.dashboard.runs import run_page

    return _render(request, "run_live.html", run_page(_archive(request), _run_id(request)))


def candidate_detail(request: Request) -> Response:
    from clade.orchestrator.dashboard.candidates import candidate_page

    archive = _archive(request)
    cid = archive.resolve_id(request.path_params["candidate_id"])
    against = request.query_params.get("against") or None
    return _render(request, "candidate.html", candidate_page(archive, cid, against))


def log_text(request: Request) -> Response:
    """A stored log as plain text (never HTML: the browser shows it, it runs nothing)."""
    digest = request.path_params["log_hash"].lower()
    if not _HASH.match(digest):
        raise MissingBlobError(f"no log {digest[:16]!r}", hint="a log hash is 64 hex digits")
    archive = _archive(request)
    if not archive.blobs.has(digest, "log"):
        raise MissingBlobError(
            f"no log {digest[:12]} in this archive",
            hint="follow a log link from a candidate's page",
        )
    text = archive.get_log(digest)
    return PlainTextResponse(text, headers={"Content-Disposition": "inline"})


def prompts_list(request: Request) -> Response:
    from clade.orchestrator.dashboard.prompts import histories

    kind = request.path_params.get("kind", "judge")
    found = histories(_archive(request), kind)
    return _render(request, "prompts.html", {"kind": kind, "histories": found, "name": None})


def prompt_history(request: Request) -> Response:
    from clade.orchestrator.dashboard.prompts import histories

    kind = request.path_params.get("kind", "judge")
    name = request.path_params["name"]
    found = histories(_archive(request), kind, name)
    run = request.query_params.get("run")
    if run:
        found = [h for h in found if (h.run_id or "") == run]
    if not found:
        raise UnknownIdError(
            f"no {kind} meta-prompt named {name!r}" + (f" in run {run}" if run else ""),
            hint=f"see /{kind}s for the ones recorded",
        )
    return _render(request, "prompts.html", {"kind": kind, "histories": found, "name": name})


def trace_detail(request: Request) -> Response:
    from clade.orchestrator.dashboard.prompts import trace_page

    return _render(
        request, "trace.html", trace_page(_archive(request), request.path_params["trace_id"])
    )


# -- JSON -------------------------------------------------------------------------------
def api_runs(request: Request) -> Response:
    from clade.archive.views import to_jsonable

    return JSONResponse(to_jsonable(_archive(request).list_runs()))


def api_run_state(request: Request) -> Response:
    from clade.orchestrator.dashboard.runs import run_state

    return JSONResponse(run_state(_archive(request), _run_id(request)))


def api_run_tree(request: Request) -> Response:
    from clade.archive.views import to_jsonable

    return JSONResponse(to_jsonable(_archive(request).tree(_run_id(request))))


def api_candidate(request: Request) -> Response:
    from clade.archive.views import to_jsonable

    archive = _archive(request)
    cid = archive.resolve_id(request.path_params["candidate_id"])
    return JSONResponse(to_jsonable(archive.show(cid)))


def routes() -> list[Route]:
    return [
        Route("/", runs_list),
        Route("/runs/{run_id}", run_detail),
        Route("/runs/{run_id}/live", run_live),
        Route("/candidates/{candidate_id}", candidate_detail),
        Route("/logs/{log_hash}", log_text),
        Route("/traces/{trace_id}", trace_detail),
        Route("/judges", prompts_list),
        Route("/judges/{name}", prompt_history),
        Route("/prompts/{kind}", prompts_list),
        Route("/prompts/{kind}/{name}", prompt_history),
        Route("/api/runs", api_runs),
        Route("/api/runs/{run_id}/state", api_run_state),
        Route("/api/runs/{run_id}/tree", api_run_tree),
        Route("/api/candidates/{candidate_id}", api_candidate),
    ]


# -- errors -----------------------------------------------------------------------------
def _error(request: Request, status: int, message: str, hint: str | None) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": message, "hint": hint}, status_code=status)
    return _render(
        request, "error.html", {"status": status, "message": message, "hint": hint}, status
    )


async def _clade_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CladeError)
    status = 404 if isinstance(exc, NOT_FOUND) else 500 if isinstance(exc, ArchiveError) else 400
    return _error(request, status, exc.message, exc.hint or "start from the runs list at /")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return _error(
            request, 404, f"no page at {request.url.path}", "start from the runs list at /"
        )
    return PlainTextResponse(str(exc.detail), status_code=exc.status_code, headers=exc.headers)


def error_handlers() -> dict[Any, Any]:
    return {CladeError: _clade_error, HTTPException: _http_error}
