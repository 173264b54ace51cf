"""The dashboard's JSON API, under ``/api``: what each page shows, and its actions.

Reads are GETs. Changes are POSTs with the CSRF token in the
``X-CSRF-Token`` header (``GET /api/csrf`` returns it) and a JSON body:
``{"uuids": [...]}`` or ``{"all": true}`` with the filters ``task``,
``queue``, ``since``/``within`` for the dead letters.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from alsek.dashboard import data
from alsek.dashboard.security import CSRF_HEADER
from alsek.dashboard.state import DEFAULT_WINDOW_MINUTES, dashboard_of, filters_from, int_param
from alsek.pure.activity import HISTORY_MINUTES


def _checked(request: Request) -> None:
    if not dashboard_of(request).guard.csrf_ok(request.headers.get(CSRF_HEADER)):
        raise HTTPException(403, "the X-CSRF-Token header is missing or stale (GET /api/csrf)")


async def _body(request: Request) -> dict[str, Any]:
    _checked(request)
    try:
        body = await request.json()
    except ValueError:
        raise HTTPException(400, "the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise HTTPException(400, "the body must be a JSON object")
    return body


def csrf(request: Request) -> JSONResponse:
    return JSONResponse({"csrf": dashboard_of(request).guard.csrf})


def overview(request: Request) -> JSONResponse:
    return JSONResponse(data.overview(dashboard_of(request).source))


def workers(request: Request) -> JSONResponse:
    return JSONResponse(data.workers(dashboard_of(request).source))


def message(request: Request) -> JSONResponse:
    source = dashboard_of(request).source
    return JSONResponse(data.message(source, request.path_params["uuid"]))


async def cancel(request: Request) -> JSONResponse:
    _checked(request)
    source = dashboard_of(request).source
    return JSONResponse(await run_in_threadpool(data.cancel, source, request.path_params["uuid"]))


def dead_letters(request: Request) -> JSONResponse:
    params = request.query_params
    page = int_param(params.get("page"), "page", 1, 10**9, 1) or 1
    per_page = int_param(params.get("per_page"), "per_page", 1, 500, 50) or 50
    view = data.dead_letters(dashboard_of(request).source, filters_from(params), page, per_page)
    return JSONResponse(view)


def _chosen(source: data.Source, body: dict[str, Any]) -> list[str]:
    if body.get("all") is True:
        fields = {k: str(v) for k, v in body.items() if k in ("task", "queue", "since", "within")}
        return data.matching_uuids(source, filters_from(fields))
    uuids = body.get("uuids")
    if not isinstance(uuids, list) or not all(isinstance(u, str) for u in uuids) or not uuids:
        raise HTTPException(400, 'give "uuids": a non-empty list of strings, or "all": true')
    return uuids


async def resubmit(request: Request) -> JSONResponse:
    source = dashboard_of(request).source
    body = await _body(request)

    def run() -> dict[str, Any]:
        return data.resubmit(source, _chosen(source, body))

    return JSONResponse(await run_in_threadpool(run))


async def remove(request: Request) -> JSONResponse:
    source = dashboard_of(request).source
    body = await _body(request)

    def run() -> dict[str, Any]:
        return data.remove(source, _chosen(source, body))

    return JSONResponse(await run_in_threadpool(run))


def forecast(request: Request) -> JSONResponse:
    minutes = int_param(
        request.query_params.get("minutes"), "minutes", 1, HISTORY_MINUTES, DEFAULT_WINDOW_MINUTES
    )
    return JSONResponse(dashboard_of(request).forecasts.get(minutes or DEFAULT_WINDOW_MINUTES))


ROUTES = [
    Route("/api/csrf", csrf),
    Route("/api/overview", overview),
    Route("/api/workers", workers),
    Route("/api/messages/{uuid}", message),
    Route("/api/messages/{uuid}/cancel", cancel, methods=["POST"]),
    Route("/api/dead-letters", dead_letters),
    Route("/api/dead-letters/resubmit", resubmit, methods=["POST"]),
    Route("/api/dead-letters/remove", remove, methods=["POST"]),
    Route("/api/forecast", forecast),
]
