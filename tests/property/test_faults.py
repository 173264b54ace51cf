"""Classification of storage errors, and URLs shown without their password."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from alsek.pure.faults import (
    AUTH_CODES,
    REDACTED,
    SQLITE_UNAVAILABLE,
    UNAVAILABLE_CODES,
    classify_redis_reply,
    classify_sqlite_message,
    error_code,
    redact_url,
)

rest = st.text(alphabet=st.characters(max_codepoint=0x7F, exclude_categories=("Cc",)), max_size=40)
codes = st.from_regex(r"[A-Z]{2,12}", fullmatch=True)


@given(st.sampled_from(sorted(UNAVAILABLE_CODES)), rest)
def test_transient_server_states_are_outages(code: str, text: str) -> None:
    assert classify_redis_reply(f"{code} {text}") == "unavailable"


@given(st.sampled_from(sorted(AUTH_CODES)), rest)
def test_refused_credentials_are_auth_errors(code: str, text: str) -> None:
    assert classify_redis_reply(f"{code} {text}") == "auth"


@given(codes, rest)
def test_other_codes_are_bugs(code: str, text: str) -> None:
    assume(code not in UNAVAILABLE_CODES | AUTH_CODES)
    assert classify_redis_reply(f"{code} {text}") == "error"


@given(rest)
def test_a_code_only_counts_as_the_first_word(text: str) -> None:
    assert classify_redis_reply(f"ERR something OOM {text}") == "error"
    assert error_code(f"Oom {text}") == ""


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        ("OOM command not allowed when used memory > 'maxmemory'.", "unavailable"),
        ("READONLY You can't write against a read only replica.", "unavailable"),
        ("NOREPLICAS Not enough good replicas to write.", "unavailable"),
        (
            "MISCONF Redis is configured to save RDB snapshots, but it's currently unable",
            "unavailable",
        ),
        ("BUSY Redis is busy running a script. You can only call SCRIPT KILL", "unavailable"),
        ("LOADING Redis is loading the dataset in memory", "unavailable"),
        (
            "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
            "unavailable",
        ),
        ("TRYAGAIN Multiple keys request during rehashing of slot", "unavailable"),
        ("CLUSTERDOWN The cluster is down", "unavailable"),
        ("NOAUTH Authentication required.", "auth"),
        ("WRONGPASS invalid username-password pair or user is disabled.", "auth"),
        ("NOPERM User limited has no permissions to run the 'set' command", "auth"),
        ("WRONGTYPE Operation against a key holding the wrong kind of value", "error"),
        ("ERR unknown command 'FOO'", "error"),
        ("NOSCRIPT No matching script.", "error"),
    ],
)
def test_the_replies_real_servers_give(reply: str, kind: str) -> None:
    assert classify_redis_reply(reply) == kind


@given(st.sampled_from(SQLITE_UNAVAILABLE), rest, rest, st.booleans())
def test_sqlite_outages(message: str, before: str, after: str, upper: bool) -> None:
    text = f"{before}{message.upper() if upper else message}{after}"
    assert classify_sqlite_message(text) == "unavailable"


@pytest.mark.parametrize(
    "message", ["no such table: alsek_index", 'near "SELEC": syntax error', "table x has no column"]
)
def test_sqlite_bugs(message: str) -> None:
    assert classify_sqlite_message(message) == "error"


secrets = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.~", min_size=1, max_size=16)
users = st.none() | st.text(alphabet="abcdefghij", min_size=1, max_size=6)
hosts = st.sampled_from(["127.0.0.1", "localhost", "redis.example.com", "[::1]"])


@given(users, secrets, hosts, st.integers(1, 65535), st.integers(0, 15))
def test_the_password_in_the_user_info_is_hidden(
    user: str | None, secret: str, host: str, port: int, db: int
) -> None:
    url = f"redis://{user or ''}:{secret}@{host}:{port}/{db}"
    shown = urlsplit(redact_url(url))
    assert shown.password == REDACTED
    assert (shown.username or None) == user
    assert shown.hostname == urlsplit(url).hostname and shown.port == port
    assert shown.path == f"/{db}" and shown.scheme == "redis"


@given(secrets, st.integers(1, 65535))
def test_the_password_in_the_query_is_hidden(secret: str, port: int) -> None:
    url = f"redis://127.0.0.1:{port}/0?password={secret}&socket_timeout=5"
    shown = parse_qs(urlsplit(redact_url(url)).query)
    assert shown == {"password": [REDACTED], "socket_timeout": ["5"]}


@given(hosts, st.integers(1, 65535), st.integers(0, 15))
def test_a_url_without_a_password_is_unchanged(host: str, port: int, db: int) -> None:
    url = f"redis://{host}:{port}/{db}"
    assert redact_url(url) == url
    assert redact_url(f"rediss://user@{host}:{port}/{db}") == f"rediss://user@{host}:{port}/{db}"
