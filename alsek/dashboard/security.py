"""Who may use the dashboard, and which requests may change something.

- **Token.** With a token set, every request but the login page and the
  static files needs ``Authorization: Bearer TOKEN`` or the session cookie
  the login page sets (an HMAC of the token: the token itself is never kept
  in the browser). A token is required to listen beyond this host.
- **Host.** Without a token (so on loopback only), the ``Host`` header must
  name a loopback host: a page elsewhere whose DNS name is rebound to
  127.0.0.1 gets nothing.
- **CSRF.** Every POST carries the CSRF token (form field ``csrf`` or header
  ``X-CSRF-Token``), derived from a secret made when the dashboard starts;
  another site cannot read it from our pages.
- **Headers.** A strict Content-Security-Policy (scripts and styles from this
  origin only, no inline script), no framing, no referrer, no sniffing.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import quote

SESSION_COOKIE = "alsek_session"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
#: Paths anyone may reach (the login form and the static files).
OPEN_PREFIXES = ("/login", "/static/")
HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
}
LOOPBACK_NAMES = ("localhost",)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address, ``[::1]`` too) is this machine only."""
    host = host.strip().strip("[]").lower()
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_of(header: str) -> str:
    """The host part of a ``Host`` header (``[::1]:8000`` -> ``::1``)."""
    header = header.strip()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def safe_next(path: str | None) -> str:
    """Where to go after logging in: a path on this site only."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path


class Guard:
    """The dashboard's secrets and checks (one per running dashboard)."""

    def __init__(self, token: str | None) -> None:
        if token is not None and not token.strip():
            raise ValueError("the dashboard token must not be empty")
        self.token = token
        self.secret = secrets.token_bytes(32)
        self.csrf = hmac.new(self.secret, b"csrf", hashlib.sha256).hexdigest()

    def session_value(self) -> str:
        """The login cookie's value (derived from the token)."""
        assert self.token is not None
        return hmac.new(self.token.encode(), b"alsek session", hashlib.sha256).hexdigest()

    def token_matches(self, offered: str) -> bool:
        """Whether ``offered`` is the token (in constant time)."""
        return self.token is not None and hmac.compare_digest(
            offered.encode(), self.token.encode()
        )

    def authorized(self, headers: dict[str, str], cookies: dict[str, str]) -> bool:
        """Whether a request may proceed: no token set, the bearer token, or the cookie."""
        if self.token is None:
            return True
        scheme, _, offered = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and self.token_matches(offered.strip()):
            return True
        cookie = cookies.get(SESSION_COOKIE, "")
        return bool(cookie) and hmac.compare_digest(cookie, self.session_value())

    def csrf_ok(self, offered: str | None) -> bool:
        """Whether a POST carries this dashboard's CSRF token."""
        return offered is not None and hmac.compare_digest(offered, self.csrf)


def _cookies(header: str) -> dict[str, str]:
    jar = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name:
            jar[name] = value
    return jar


class GuardMiddleware:
    """ASGI middleware: the host and token checks, and the security headers."""

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        path: str = scope["path"]
        if self.guard.token is None and not is_loopback(host_of(headers.get("host", ""))):
            await _plain(send, 400, "the dashboard answers requests for a loopback host only")
            return
        if not path.startswith(OPEN_PREFIXES) and not self.guard.authorized(
            headers, _cookies(headers.get("cookie", ""))
        ):
            if path.startswith("/api/"):
                await _plain(send, 401, "a bearer token is required", bearer=True)
            else:
                query = scope.get("query_string", b"").decode("latin-1")
                target = path + (f"?{query}" if query else "")
                await _redirect(send, f"/login?next={quote(target, safe='')}")
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [(k.encode(), v.encode()) for k, v in HEADERS.items()]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


async def _plain(send: Send, status: int, text: str, bearer: bool = False) -> None:
    headers = [(b"content-type", b"text/plain; charset=utf-8")]
    if bearer:
        headers.append((b"www-authenticate", b'Bearer realm="alsek"'))
    headers += [(k.encode(), v.encode()) for k, v in HEADERS.items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": text.encode()})


async def _redirect(send: Send, location: str) -> None:
    headers = [(b"location", location.encode("latin-1"))]
    headers += [(k.encode(), v.encode()) for k, v in HEADERS.items()]
    await send({"type": "http.response.start", "status": 303, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
