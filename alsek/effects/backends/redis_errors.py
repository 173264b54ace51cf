"""How Redis errors become Alsek errors, and how Alsek's clients retry.

A connection error or a timeout is retried by the client itself (redis-py's
``Retry``, exponential backoff), so a socket that died with a restarted
server costs a reconnect, not an error. What still fails is translated:
transient server states and outages become ``BackendUnavailableError``
(which everything that retries outages retries), refused credentials or
permissions ``BackendAuthError`` (never retried: no retry fixes them), and
anything else stays the redis-py error it is (a bug). The rules by error
code live in ``alsek.pure.faults``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, cast

import redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from alsek.exceptions import BackendAuthError, BackendUnavailableError
from alsek.pure.faults import Kind, classify_redis_reply, error_code

F = TypeVar("F", bound=Callable[..., Any])

#: Client-side retries of a connection error or timeout, with exponential backoff.
RETRY_ATTEMPTS = 3
RETRY_BASE_S = 0.05
RETRY_CAP_S = 1.0


class Described(Protocol):
    """Anything that can say where it connects to (a RedisBackend)."""

    def describe(self) -> str: ...


class _NoRetry(Exception):
    """Carries an error out of redis-py's retry loop untouched (not retryable)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


class AlsekRetry(Retry):
    """redis-py's ``Retry`` (connection errors and timeouts, exponential backoff)
    that never retries a refused password: that is no outage."""

    def call_with_retry(self, do: Callable[[], Any], fail: Any, *args: Any, **kwargs: Any) -> Any:
        def attempt() -> Any:
            try:
                return do()
            except AUTH_ERRORS as error:
                raise _NoRetry(error) from error

        try:
            return super().call_with_retry(attempt, fail, *args, **kwargs)
        except _NoRetry as stopped:
            raise stopped.error from None


def new_retry() -> Retry:
    """The retry policy of the clients Alsek builds: a dead pooled socket (a
    restarted server) costs one reconnect, not an error."""
    return AlsekRetry(
        ExponentialWithJitterBackoff(base=RETRY_BASE_S, cap=RETRY_CAP_S), RETRY_ATTEMPTS
    )


#: redis-py's classes for server replies, by the code redis-py strips from them.
_CODES: tuple[tuple[type[BaseException], str], ...] = (
    (redis.exceptions.OutOfMemoryError, "OOM"),
    (redis.exceptions.ReadOnlyError, "READONLY"),
    (redis.exceptions.BusyLoadingError, "LOADING"),
    (redis.exceptions.MasterDownError, "MASTERDOWN"),
    (redis.exceptions.TryAgainError, "TRYAGAIN"),
    (redis.exceptions.ClusterDownError, "CLUSTERDOWN"),
    (redis.exceptions.NoPermissionError, "NOPERM"),
)
#: A cluster in the middle of a failover or a resharding: slots not served yet, or
#: redirections and retries exhausted (redis-py follows MOVED and ASK itself).
CLUSTER_TRANSIENT: tuple[type[BaseException], ...] = (
    redis.exceptions.ClusterError,
    redis.exceptions.SlotNotCoveredError,
    redis.exceptions.AskError,
)
AUTH_ERRORS: tuple[type[BaseException], ...] = (
    redis.exceptions.AuthenticationError,
    redis.exceptions.AuthorizationError,
    redis.exceptions.NoPermissionError,
    redis.exceptions.AuthenticationWrongNumberOfArgsError,
)


def classify(error: BaseException) -> tuple[Kind, str]:
    """How to treat a redis-py error, and its text with the server's code restored."""
    text = str(error)
    for cls, code in _CODES:
        if isinstance(error, cls) and error_code(text) != code:
            text = f"{code} {text}"
            break
    if isinstance(error, AUTH_ERRORS):
        return "auth", text
    if isinstance(error, (RedisConnectionError, RedisTimeoutError, *CLUSTER_TRANSIENT)):
        return "unavailable", text
    if isinstance(error, redis.exceptions.ResponseError):
        return classify_redis_reply(text), text
    return "error", text


def translate(error: BaseException, where: str) -> BaseException:
    """The Alsek error for a redis-py error: ``BackendUnavailableError`` for an
    outage or a transient server state, ``BackendAuthError`` for refused
    credentials, else ``error`` itself (a bug)."""
    kind, text = classify(error)
    if kind == "auth":
        return BackendAuthError(
            f"Redis at {where} refused the credentials or the permission: {text} "
            "(check the password, user and ACL in the URL)"
        )
    if kind == "unavailable":
        return BackendUnavailableError(f"Redis at {where} is unavailable: {text}")
    return error


def unavailable(method: F) -> F:
    """Translate redis-py errors (see ``translate``), chaining the cause."""

    @functools.wraps(method)
    def wrapper(self: Described, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except (redis.exceptions.RedisError, redis.exceptions.SlotNotCoveredError) as error:
            translated = translate(error, self.describe())
            if translated is error:
                raise
            raise translated from error

    return cast(F, wrapper)
