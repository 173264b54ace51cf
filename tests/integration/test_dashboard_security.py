"""Who may use the dashboard: the token (bearer header, or entered once and kept in a
cookie), the loopback Host check without one, CSRF on every change, and the headers."""

from __future__ import annotations

import pytest

from alsek.core import Broker
from alsek.effects.backends.base import Backend
from tests.support.dashboard import client, csrf_of, form_csrf

TOKEN = "s3cret-token"
PAGES = ("/", "/workers", "/messages", "/dead-letters", "/forecast?minutes=1")
APIS = ("/api/overview", "/api/workers", "/api/dead-letters", "/api/forecast", "/api/csrf")


@pytest.fixture()
def broker(backend: Backend) -> Broker:
    return Broker(backend)


def test_with_a_token_nothing_is_served_without_it(broker: Broker) -> None:
    http = client(broker, token=TOKEN)
    for path in APIS:
        answer = http.get(path)
        assert answer.status_code == 401, path
        assert answer.headers["www-authenticate"].startswith("Bearer")
    for path in PAGES:
        answer = http.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/login?next=%2F")
    assert http.get("/api/overview", headers={"Authorization": "Bearer wrong"}).status_code == 401
    http.cookies.set("alsek_session", TOKEN)  # the token itself is not the session cookie
    assert http.get("/api/overview").status_code == 401
    # The login page and the script are open.
    assert http.get("/login").status_code == 200
    assert http.get("/static/dashboard.js").status_code == 200


def test_the_bearer_token_opens_every_page_and_api(broker: Broker) -> None:
    http = client(broker, token=TOKEN)
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    for path in (*PAGES, *APIS):
        assert http.get(path, headers=bearer).status_code == 200, path
    headers = {**bearer, "X-CSRF-Token": csrf_of(http, **bearer)}
    answer = http.post("/api/dead-letters/remove", json={"all": True}, headers=headers)
    assert answer.json() == {"done": [], "failed": []}


def test_a_token_entered_once_is_kept_in_a_cookie_until_logging_out(broker: Broker) -> None:
    http = client(broker, token=TOKEN)
    form = http.get("/login?next=/dead-letters%3Fqueue%3Dq").text
    token = form_csrf(form)
    assert 'name="next" value="/dead-letters?queue=q"' in form
    wrong = http.post("/login", data={"csrf": token, "token": "nope", "next": "/workers"})
    assert wrong.status_code == 401 and "That is not the token" in wrong.text
    no_csrf = http.post("/login", data={"token": TOKEN, "next": "/workers"})
    assert no_csrf.status_code == 403
    right = http.post("/login", data={"csrf": token, "token": TOKEN, "next": "/workers"})
    assert right.status_code == 303 and right.headers["location"] == "/workers"
    cookie = right.headers["set-cookie"]
    assert "alsek_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert TOKEN not in cookie
    assert http.get("/workers").status_code == 200
    assert http.get("/api/overview").status_code == 200
    out = http.post("/logout", data={"csrf": token})
    assert out.status_code == 303
    assert http.get("/workers").status_code == 303


def test_logging_in_never_sends_the_reader_to_another_site(broker: Broker) -> None:
    http = client(broker, token=TOKEN)
    token = form_csrf(http.get("/login").text)
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        answer = http.post("/login", data={"csrf": token, "token": TOKEN, "next": target})
        assert answer.headers["location"] == "/", target


def test_without_a_token_only_loopback_hosts_are_answered(broker: Broker) -> None:
    http = client(broker)
    assert http.get("/api/overview").status_code == 200
    for host in ("localhost:8000", "[::1]:8000", "127.0.0.1"):
        assert http.get("/api/overview", headers={"Host": host}).status_code == 200, host
    for host in ("evil.example", "evil.example:8000", "192.168.1.9"):
        answer = http.get("/api/overview", headers={"Host": host})
        assert answer.status_code == 400 and "loopback" in answer.text, host
    # With a token the dashboard may listen anywhere: the token decides, not the Host.
    guarded = client(broker, token=TOKEN)
    answer = guarded.get(
        "/api/overview", headers={"Host": "dash.example", "Authorization": f"Bearer {TOKEN}"}
    )
    assert answer.status_code == 200


def test_every_change_needs_the_csrf_token(broker: Broker) -> None:
    http = client(broker)
    for path in ("/dead-letters", "/messages/abc/cancel", "/logout"):
        assert http.post(path, data={"action": "remove"}).status_code == 403, path
        assert http.post(path, data={"csrf": "0" * 64}).status_code == 403, path
    actions = ("/api/dead-letters/resubmit", "/api/dead-letters/remove", "/api/messages/a/cancel")
    for path in actions:
        assert http.post(path, json={"all": True}).status_code == 403, path
        wrong = {"X-CSRF-Token": "0" * 64}
        assert http.post(path, json={"all": True}, headers=wrong).status_code == 403, path
    # Another dashboard's token is not this one's.
    other = csrf_of(client(broker))
    assert other != csrf_of(http)
    assert http.post("/dead-letters", data={"csrf": other}).status_code == 403
    # Reads are never changes: GET on an action is not allowed.
    assert http.get("/api/dead-letters/remove").status_code == 405


def test_pages_forbid_framing_inline_script_and_outside_resources(broker: Broker) -> None:
    answer = client(broker).get("/")
    policy = answer.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert "<script>" not in answer.text and "http://" not in answer.text.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )
