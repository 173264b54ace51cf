"""Which storage errors are outages, which are refusals, and which are bugs.

Everything that retries outages (the pool, outcome persistence) retries
``unavailable`` errors: the server is there but cannot serve for now
(restarting, out of memory, read-only after a failover, locked). An
``auth`` error is a configuration problem that no retry fixes: it fails
fast. Anything else is an ``error`` (a bug) and propagates as is.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

Kind = Literal["unavailable", "auth", "error"]

#: Redis error codes of transient server states.
UNAVAILABLE_CODES = frozenset(
    {
        "OOM",
        "READONLY",
        "NOREPLICAS",
        "MISCONF",
        "BUSY",
        "LOADING",
        "MASTERDOWN",
        "TRYAGAIN",
        "CLUSTERDOWN",
    }
)
#: Redis error codes of refused credentials or permissions.
AUTH_CODES = frozenset({"NOAUTH", "WRONGPASS", "NOPERM"})
#: SQLite messages (lower case) of a database that cannot serve for now.
SQLITE_UNAVAILABLE = (
    "database is locked",
    "database table is locked",
    "database is busy",
    "disk i/o error",
    "database or disk is full",
    "unable to open database file",
)
REDACTED = "***"


def error_code(text: str) -> str:
    """The leading all-caps word of a Redis error reply (``''`` if none)."""
    word = text.strip().split(" ", 1)[0] if text.strip() else ""
    return word if word.isalpha() and word.isupper() else ""


def classify_redis_reply(text: str) -> Kind:
    """Classify a Redis error reply by its code (``'OOM command not allowed...'``)."""
    code = error_code(text)
    if code in UNAVAILABLE_CODES:
        return "unavailable"
    if code in AUTH_CODES:
        return "auth"
    return "error"


def classify_sqlite_message(text: str) -> Kind:
    """Classify an ``sqlite3.OperationalError`` by its message."""
    lowered = text.lower()
    return "unavailable" if any(m in lowered for m in SQLITE_UNAVAILABLE) else "error"


def _secret(option: str) -> bool:
    return option == "password" or option.endswith("_password")


def redact_url(url: str) -> str:
    """``url`` with its password (in the user info or the query) replaced by ``***``."""
    parts = urlsplit(url)
    netloc = parts.netloc
    userinfo, at, hostinfo = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.split(':', 1)[0]}:{REDACTED}@{hostinfo}"
    query = parts.query
    pairs = parse_qsl(query, keep_blank_values=True)
    if any(_secret(key) for key, _ in pairs):
        query = urlencode([(k, REDACTED if _secret(k) else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
