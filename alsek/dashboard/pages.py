"""The dashboard's pages: each renders the data its JSON API returns (``api``).

Changes are POSTs carrying the CSRF token, answered with a redirect (so a
reload never repeats them) whose query says what was done. Removing dead
letters, and acting on a selection or on all of them, asks for confirmation
first.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import attrs
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from alsek.dashboard import charts, data
from alsek.dashboard.security import CSRF_FIELD, SESSION_COOKIE, safe_next
from alsek.dashboard.state import DEFAULT_WINDOW_MINUTES, dashboard_of, filters_from, int_param
from alsek.pure.activity import HISTORY_MINUTES

#: Enough for a page of selected uuids, and then some.
MAX_FORM_BYTES = 1_000_000


async def _form(request: Request) -> FormData:
    """The POSTed form (URL-encoded, as every form here is), once its CSRF token is
    checked."""
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if kind != "application/x-www-form-urlencoded":
        raise HTTPException(415, "forms are posted URL-encoded")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise HTTPException(413, f"a form is at most {MAX_FORM_BYTES} bytes")
    fields: list[tuple[str, str | UploadFile]] = []
    fields += parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    form = FormData(fields)
    offered = form.get(CSRF_FIELD)
    if not dashboard_of(request).guard.csrf_ok(offered if isinstance(offered, str) else None):
        raise HTTPException(403, "the form's CSRF token is missing or stale: reload the page")
    return form


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def overview(request: Request) -> Response:
    board = dashboard_of(request)
    view = data.overview(board.source)
    bars = [(m["succeeded"], m["failed"]) for m in view["minutes"]]
    chart = charts.outcome_bars(bars, "Completions and failures per minute, last hour")
    context = {"title": "Overview", "page": "overview", "data": view, "chart": chart}
    return board.render(request, "overview.html", context)


def workers(request: Request) -> Response:
    board = dashboard_of(request)
    context = {"title": "Workers", "page": "workers", "data": data.workers(board.source)}
    return board.render(request, "workers.html", context)


def search(request: Request) -> Response:
    uuid = (request.query_params.get("uuid") or "").strip()
    if uuid:
        return RedirectResponse(f"/messages/{quote(data.checked_uuid(uuid), safe='')}", 303)
    board = dashboard_of(request)
    return board.render(request, "message.html", {"title": "Message", "page": "message"})


def message(request: Request) -> Response:
    board = dashboard_of(request)
    view = data.message(board.source, request.path_params["uuid"])
    context = {
        "title": f"Message {view['uuid']}",
        "page": "message",
        "data": view,
        "done": request.query_params.get("done"),
    }
    return board.render(request, "message.html", context)


async def cancel(request: Request) -> Response:
    await _form(request)
    board = dashboard_of(request)
    result = await run_in_threadpool(data.cancel, board.source, request.path_params["uuid"])
    query = urlencode({"done": result["result"]})
    return RedirectResponse(f"/messages/{quote(result['uuid'], safe='')}?{query}", 303)


def dead_letters(request: Request) -> Response:
    board = dashboard_of(request)
    params = request.query_params
    filters = filters_from(params)
    page = int_param(params.get("page"), "page", 1, 10**9, 1) or 1
    view = data.dead_letters(board.source, filters, page)
    context = {
        "title": "Dead letters",
        "page": "dead_letters",
        "data": view,
        "within": params.get("within", ""),
        "query": _filter_query(filters, params.get("within")),
        "done": params.get("done"),
        "count": params.get("n"),
        "failed": params.get("failed"),
    }
    return board.render(request, "dead_letters.html", context)


def _filter_query(filters: data.Filters, within: str | None) -> str:
    fields: dict[str, str | int | None] = {"task": filters.task, "queue": filters.queue}
    fields.update({"within": within} if within else {"since": filters.since})
    return urlencode({k: v for k, v in fields.items() if v not in (None, "")})


async def act_on_dead_letters(request: Request) -> Response:
    form = await _form(request)
    board = dashboard_of(request)
    action, scope = _text(form, "action"), _text(form, "scope")
    if action not in ("resubmit", "remove") or scope not in ("one", "selected", "all"):
        raise HTTPException(400, "action must be resubmit or remove, scope one, selected or all")
    filters = filters_from(form)
    chosen = [u for u in form.getlist("uuid") if isinstance(u, str) and u]
    if scope == "all":
        chosen = await run_in_threadpool(data.matching_uuids, board.source, filters)
    if not chosen:
        raise HTTPException(400, "no dead letter was chosen")
    immediate = action == "resubmit" and scope == "one"
    if not immediate and _text(form, "confirmed") != "yes":
        context = {
            "title": "Confirm",
            "page": "dead_letters",
            "live": False,  # a refresh would load the list in place of the question
            "action": action,
            "scope": scope,
            "uuids": chosen,
            "filters": attrs.asdict(filters),
            "within": _text(form, "within"),
        }
        return board.render(request, "confirm.html", context)
    act = data.resubmit if action == "resubmit" else data.remove
    outcome = await run_in_threadpool(act, board.source, chosen)
    query = _filter_query(filters, _text(form, "within") or None)
    done = urlencode({"done": action, "n": len(outcome["done"]), "failed": len(outcome["failed"])})
    return RedirectResponse(f"/dead-letters?{query}&{done}".replace("?&", "?"), status_code=303)


def forecast(request: Request) -> Response:
    board = dashboard_of(request)
    minutes = int_param(
        request.query_params.get("minutes"), "minutes", 1, HISTORY_MINUTES, DEFAULT_WINDOW_MINUTES
    )
    view = board.forecasts.get(minutes or DEFAULT_WINDOW_MINUTES)
    context = {
        "title": "Forecast",
        "page": "forecast",
        "data": view,
        "chart": _forecast_chart(view),
        "live": False,  # a simulation per load: recomputed on demand only
    }
    return board.render(request, "forecast.html", context)


def _forecast_chart(view: dict[str, Any]) -> str:
    """Messages waiting over time, per scenario: up to a little after the slowest
    drain (or the longest horizon when one never drains), and a few samples at least."""
    scenarios = view["scenarios"]
    longest = max((s["horizon_ms"] for s in scenarios), default=1)
    drains = [s["drain_ms"] for s in scenarios]
    x_max = longest
    if drains and None not in drains:
        steps = [s["series"][1][0] for s in scenarios if len(s["series"]) > 1]
        x_max = min(max(int(max(drains) * 1.25), 4 * max(steps, default=1)), longest)
    series = [
        (f"{s['pools']} pool{'s' if s['pools'] != 1 else ''}", [tuple(p) for p in s["series"]])
        for s in scenarios
    ]
    return charts.lines(series, x_max, "Messages waiting over time, per pool count (model)")


def login(request: Request) -> Response:
    board = dashboard_of(request)
    target = safe_next(request.query_params.get("next"))
    context = {"title": "Log in", "page": "login", "next": target}
    return board.render(request, "login.html", context)


async def login_post(request: Request) -> Response:
    form = await _form(request)
    board = dashboard_of(request)
    target = safe_next(_text(form, "next"))
    if board.guard.token is None:
        return RedirectResponse(target, status_code=303)
    if not board.guard.token_matches(_text(form, "token")):
        context = {"title": "Log in", "page": "login", "next": target, "wrong": True}
        return board.render(request, "login.html", context, status=401)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE, board.guard.session_value(), httponly=True, samesite="strict", path="/"
    )
    return response


async def logout(request: Request) -> Response:
    await _form(request)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


ROUTES = [
    Route("/", overview),
    Route("/workers", workers),
    Route("/messages", search),
    Route("/messages/{uuid}", message),
    Route("/messages/{uuid}/cancel", cancel, methods=["POST"]),
    Route("/dead-letters", dead_letters),
    Route("/dead-letters", act_on_dead_letters, methods=["POST"]),
    Route("/forecast", forecast),
    Route("/login", login),
    Route("/login", login_post, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]
