"""The Redis backend's scripts on a real server: out of memory, a flushed script cache."""

from __future__ import annotations

import time

import pytest
import redis

from alsek.core import Broker, Message
from alsek.exceptions import BackendUnavailableError
from alsek.pure.redis_keys import index_key
from alsek.storage.backends.redis import RedisBackend
from tests.support import faults
from tests.support.redis_server import RedisServer


def now() -> int:
    return int(time.time() * 1000)


def test_out_of_memory_refuses_a_submission_whole_and_keeps_renewals_going(
    redis_url: str, redis_server: RedisServer
) -> None:
    broker = Broker(RedisBackend(redis_url))
    held = Message(task_name="t", queue="q", mechanism="thread")
    broker.submit(held)
    (claim,) = broker.backend.claim(["q"], ["thread"], now(), 5_000, ["tok"]).claims
    with faults.out_of_memory(redis_server):
        refused = Message(task_name="t", queue="q", mechanism="thread")
        with pytest.raises(BackendUnavailableError, match="OOM"):
            broker.submit(refused)
        # A running task's lease is still extended: losing it would run the task twice.
        assert broker.backend.renew("q", claim.name, "tok", now(), 60_000)
    assert not broker.exists(refused)
    assert broker.counts("q") == {"ready": 0, "delayed": 0, "leased": 1}
    # Nothing half-written: the refused message left no index entry behind.
    client = redis.Redis.from_url(redis_url)
    assert client.zcard(index_key("alsek", "q", "ready:thread")) == 0
    assert client.zcard(index_key("alsek", "q", "leased")) == 1


def test_a_flushed_script_cache_is_refilled_on_the_next_call(redis_url: str) -> None:
    backend = RedisBackend(redis_url)
    broker = Broker(backend)
    client = redis.Redis.from_url(redis_url)
    first = Message(task_name="t", queue="q", mechanism="thread")
    broker.submit(first)
    client.script_flush()
    second = Message(task_name="t", queue="q", mechanism="thread")
    broker.submit(second)  # a plain call
    client.script_flush()
    # The claim behind a blocking pop goes in one pipeline: it too reloads.
    batch = backend.wait_and_claim(["q"], ["thread"], now, 5_000, ["a", "b"], block_ms=500)
    assert sorted(c.name.rsplit(":", 1)[1] for c in batch.claims) == sorted(
        [first.uuid, second.uuid]
    )
