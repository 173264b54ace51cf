"""What every request handler of the dashboard shares: the ``Dashboard`` (the source,
the guard, the templates, the forecast cache) and the parsing of query and form
fields (a bad one is a 400 naming it).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from alsek.dashboard import data
from alsek.dashboard.security import Guard
from alsek.pure.display import duration, timestamp

HERE = Path(__file__).parent
FORECAST_TTL_S = 30.0
DEFAULT_WINDOW_MINUTES = 15


class ForecastCache:
    """The latest forecast per window, recomputed when older than ``ttl_s``."""

    def __init__(self, source: data.Source, ttl_s: float = FORECAST_TTL_S) -> None:
        self.source = source
        self.ttl_s = ttl_s
        self.lock = threading.Lock()
        self.kept: dict[int, tuple[float, dict[str, Any]]] = {}

    def get(self, minutes: int) -> dict[str, Any]:
        """The forecast over the last ``minutes`` (one computation at a time)."""
        with self.lock:
            kept = self.kept.get(minutes)
            if kept is not None and time.monotonic() - kept[0] < self.ttl_s:
                return kept[1]
            result = data.capacity_forecast(self.source, minutes)
            self.kept[minutes] = (time.monotonic(), result)
            return result


class Dashboard:
    """What every request handler shares."""

    def __init__(self, source: data.Source, guard: Guard, refresh_s: int) -> None:
        self.source = source
        self.guard = guard
        self.refresh_s = refresh_s
        self.forecasts = ForecastCache(source)
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        self.templates.env.filters["duration"] = duration
        self.templates.env.filters["timestamp"] = timestamp

    def render(
        self, request: Request, template: str, context: dict[str, Any], status: int = 200
    ) -> Response:
        """A page, with what every page needs."""
        base = {
            "csrf": self.guard.csrf,
            "refresh": self.refresh_s,
            "token_enabled": self.guard.token is not None,
            "show_args": self.source.show_args,
        }
        return self.templates.TemplateResponse(
            request, template, {**base, **context}, status_code=status
        )


def dashboard_of(request: Request) -> Dashboard:
    """The dashboard serving ``request``."""
    state: Dashboard = request.app.state.dashboard
    return state


def int_param(value: str | None, name: str, low: int, high: int, default: int | None) -> int | None:
    """An integer query or form field within ``[low, high]``, or a 400 naming it."""
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise HTTPException(400, f"{name} must be an integer, got {value!r}") from None
    if not low <= number <= high:
        raise HTTPException(400, f"{name} must be between {low} and {high}, got {number}")
    return number


def filters_from(params: Any) -> data.Filters:
    """Dead-letter filters from query or form fields: ``task``, ``queue``, and ``since``
    (UTC ms) or ``within`` (the last so many minutes)."""
    since = int_param(params.get("since"), "since", 0, 2**53, None)
    within = int_param(params.get("within"), "within", 1, 10**7, None)
    if within is not None:
        since = int(time.time() * 1000) - within * 60_000
    return data.Filters(params.get("task") or None, params.get("queue") or None, since)
