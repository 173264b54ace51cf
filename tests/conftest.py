"""Shared fixtures: Hypothesis profiles, a real redis-server, backends.

Tests that need Redis start their own ``redis-server`` on a free loopback
port. When the binary is missing they are skipped with the reason, except
under CI (``ALSEK_CI=1``, set by ``.ci/run``), where that is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, Phase, settings

from tests.support.redis_server import RedisServer, redis_binary

IN_CI = os.environ.get("ALSEK_CI") == "1"

# CI does not shrink: a failure is reported as found (with its blob to replay), and a
# test interrupted by pytest-timeout on a slow machine cannot turn into a long shrink.
settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=60,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target],
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if IN_CI else "dev"))


def require_redis_binary() -> None:
    """Skip (locally) or fail (in CI) when redis-server is missing."""
    if redis_binary() is None:
        reason = "redis-server binary not found (install it: apt-get install redis-server)"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One throwaway redis-server per test session (per xdist worker)."""
    require_redis_binary()
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture()
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """The URL of a freshly flushed Redis."""
    import redis

    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    yield redis_server.url
