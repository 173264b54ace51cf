"""The URL forms of a Redis deployment: one server, a cluster, a Sentinel-managed primary."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alsek.exceptions import ValidationError
from alsek.pure.faults import redact_url
from alsek.pure.redis_urls import parse_redis_url
from tests.property.strategies import light

hosts = st.lists(
    st.tuples(st.sampled_from(["127.0.0.1", "redis-a", "10.0.0.7"]), st.integers(1, 65535)),
    min_size=1,
    max_size=4,
)


@light
@given(hosts, st.sampled_from(["redis", "rediss"]), st.booleans())
def test_a_cluster_url_names_every_start_up_node(
    nodes: list[tuple[str, int]], base: str, with_password: bool
) -> None:
    secret = "u:pw@" if with_password else ""
    url = f"{base}+cluster://{secret}{','.join(f'{h}:{p}' for h, p in nodes)}?socket_timeout=3"
    topology = parse_redis_url(url)
    assert topology.kind == "cluster" and topology.hosts == tuple(nodes)
    host, port = nodes[0]
    assert topology.node_url == f"{base}://{secret}{host}:{port}/0?socket_timeout=3"


@light
@given(hosts, st.integers(0, 15))
def test_a_sentinel_url_names_the_sentinels_the_service_and_the_database(
    nodes: list[tuple[str, int]], db: int
) -> None:
    listed = ",".join(host if port == 26379 else f"{host}:{port}" for host, port in nodes)
    url = f"redis+sentinel://:pw@{listed}/mymaster/{db}?sentinel_password=s3&socket_timeout=2"
    topology = parse_redis_url(url)
    assert topology.kind == "sentinel" and topology.service == "mymaster"
    assert topology.hosts == tuple(nodes)
    assert topology.sentinel_options == (("sentinel_password", "s3"),)
    assert topology.node_url.endswith(f"/{db}?socket_timeout=2")
    assert "s3" not in redact_url(url) and "pw" not in redact_url(url)


def test_a_sentinel_port_defaults_to_26379_and_a_single_server_url_is_left_to_redis_py() -> None:
    assert parse_redis_url("redis+sentinel://s1/m").hosts == (("s1", 26379),)
    assert parse_redis_url("redis+cluster://[::1]:7000").hosts == (("::1", 7000),)
    for url in ("redis://h:1/0", "rediss://h", "unix:///tmp/r.sock"):
        assert parse_redis_url(url).kind == "single"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("localhost:6379", "not a Redis URL"),
        ("http://h", "unknown scheme"),
        ("redis+mesh://h", "unknown scheme"),
        ("redis+sentinel://s1:26379", "names no service"),
        ("redis+sentinel://s1/m/x", "unexpected path"),
        ("redis+cluster://h:7000/3", "only database 0"),
        ("redis+cluster://h:port", "not host"),
        ("redis+cluster://:pw@h:x", "not host"),
    ],
)
def test_a_malformed_url_is_refused_saying_why_without_its_password(url: str, says: str) -> None:
    with pytest.raises(ValidationError, match=says) as caught:
        parse_redis_url(url)
    assert "pw" not in str(caught.value)
