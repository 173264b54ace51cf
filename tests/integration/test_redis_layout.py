"""The scripts build the same keys as Python (``prelude.lua`` and ``dlq.lua`` mirror
``alsek.pure.redis_keys``), checked on a real server."""

from __future__ import annotations

import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from alsek.effects.backends.redis_lua import _read
from alsek.pure.redis_keys import dead_letter_index_key, index_key, queue_tag, store_key
from tests.property.strategies import names
from tests.support.redis_server import RedisServer

MIRROR = (
    _read("prelude")
    + _read("dlq")
    + "return {key_of(ARGV[2]), key_of('dlq:' .. ARGV[2]), idx(ARGV[3], 'entries'), "
    "tag(ARGV[3]), dlq(ARGV[3], 'by_time'), idx(ARGV[3], 'due')}"
)
queues = st.one_of(names, st.sampled_from(["a}b", "{x}", "x{", "}"]))
stored = st.one_of(
    st.builds(lambda q, t, u: f"queues:{q}:tasks:{t}:messages:{u}", queues, names, names),
    st.builds(lambda q: f"queues:{q}", queues),
    names,
    st.just("results:u1"),
)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["alsek", "ns_2"]), stored, queues)
def test_the_scripts_build_the_keys_python_builds(
    redis_server: RedisServer, namespace: str, name: str, queue: str
) -> None:
    client = redis.Redis.from_url(redis_server.url)
    try:
        reply = client.eval(MIRROR, 0, namespace, name, queue)
    finally:
        client.close()
    assert [part.decode() for part in reply] == [
        store_key(namespace, name),
        store_key(namespace, f"dlq:{name}"),
        index_key(namespace, queue, "entries"),
        queue_tag(namespace, queue),
        dead_letter_index_key(namespace, queue, "by_time"),
        index_key(namespace, queue, "due"),
    ]
