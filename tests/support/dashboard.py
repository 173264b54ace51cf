"""Helpers for dashboard tests: an app around a broker, its CSRF token, bounded waits."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from starlette.testclient import TestClient

from alsek.dashboard.app import create_app
from alsek.dashboard.data import Source

#: What a browser on this machine sends as its Host.
LOCAL = "http://127.0.0.1"


def client(
    broker: Any,
    stores: tuple[Any, ...] = (),
    queues: tuple[str, ...] = (),
    show_args: bool = False,
    token: str | None = None,
) -> TestClient:
    """A test client of a dashboard of ``broker`` (redirects are not followed)."""
    app = create_app(Source(broker, stores, queues, show_args), token=token)
    return TestClient(app, base_url=LOCAL, follow_redirects=False)


def csrf_of(http: TestClient, **headers: str) -> str:
    """The dashboard's CSRF token, as a script gets it."""
    answer = http.get("/api/csrf", headers=headers)
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["csrf"]
    return token


def form_csrf(html: str) -> str:
    """The CSRF token of the first form in a page."""
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert match is not None, "no CSRF field in the page"
    return match.group(1)


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait (bounded) for ``condition``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)
