"""The dashboard's web application: ``create_app`` builds it around a ``Source``.

Pages (``pages``) are rendered on the server from the same data their JSON
API (``api``) returns; one small script refreshes them in place. The
forecast runs the simulator, so its result is kept for ``FORECAST_TTL_S``
per window. Errors from the backend become a 503 saying what failed; bad
input a 400 saying which field.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from alsek.dashboard import api, data, pages
from alsek.dashboard.security import Guard, GuardMiddleware
from alsek.dashboard.state import HERE, Dashboard, dashboard_of
from alsek.exceptions import AlsekError, ValidationError


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


async def _alsek_error(request: Request, error: Exception) -> Response:
    status = 400 if isinstance(error, ValidationError) else 503
    if _wants_json(request):
        return JSONResponse({"error": str(error)}, status_code=status)
    return dashboard_of(request).render(
        request, "error.html", {"title": "Error", "status": status, "error": str(error)}, status
    )


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    if _wants_json(request):
        return JSONResponse({"error": error.detail}, status_code=error.status_code)
    if error.status_code in (404, 400, 403):
        return dashboard_of(request).render(
            request,
            "error.html",
            {"title": "Error", "status": error.status_code, "error": error.detail},
            error.status_code,
        )
    return PlainTextResponse(error.detail, status_code=error.status_code)


def create_app(
    source: data.Source, token: str | None = None, refresh_s: int = 5
) -> Starlette:
    """The dashboard for ``source``; ``token`` (if given) is required of every request."""
    guard = Guard(token)
    app = Starlette(
        routes=[
            *pages.ROUTES,
            *api.ROUTES,
            Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
        ],
        middleware=[Middleware(GuardMiddleware, guard=guard)],  # type: ignore[arg-type]
        exception_handlers={AlsekError: _alsek_error, HTTPException: _http_error},
    )
    app.state.dashboard = Dashboard(source, guard, refresh_s)
    return app
