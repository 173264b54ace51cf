"""The URL forms of a Redis deployment, read into what a client needs.

- ``redis://``, ``rediss://``, ``unix://``: one server (redis-py reads them);
- ``redis+cluster://[user:password@]host:port[,host:port...][/0][?options]``: a Redis
  Cluster, from any of its nodes (``rediss+cluster://`` for TLS);
- ``redis+sentinel://[user:password@]host[:port][,host[:port]...]/service[/db][?options]``:
  the primary that Sentinel names ``service`` (``rediss+sentinel://`` for TLS), as
  kombu, Celery and redis-sentinel-url spell it. Sentinels listen on 26379 unless a
  port is given; ``sentinel_username`` and ``sentinel_password`` in the query
  authenticate to the sentinels, the user info to the data nodes.

Other query options are redis-py's (``socket_timeout=...``), for the data nodes.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import parse_qsl, urlencode

from attrs import frozen

from alsek.exceptions import ValidationError
from alsek.pure.faults import redact_url

Kind = Literal["single", "cluster", "sentinel"]
SENTINEL_PORT = 26379
REDIS_PORT = 6379
#: Query options that go to the sentinels, not the data nodes.
SENTINEL_OPTIONS = ("sentinel_username", "sentinel_password")


@frozen
class RedisTopology:
    """A deployment read from a URL.

    ``hosts`` are the cluster's start-up nodes or the sentinels; ``node_url`` is a
    plain ``redis://`` (or ``rediss://``) URL with the credentials, database and options
    of the data nodes (its host is the first of ``hosts``; only its options matter).
    """

    kind: Kind
    url: str
    hosts: tuple[tuple[str, int], ...] = ()
    service: str | None = None
    node_url: str = ""
    sentinel_options: tuple[tuple[str, str], ...] = ()


def parse_redis_url(url: str) -> RedisTopology:
    """Read ``url`` (see the module's forms); a malformed one raises ``ValidationError``
    naming it (without its password)."""
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep:
        raise ValidationError(f"{redact_url(url)!r} is not a Redis URL (redis://host:port/db)")
    if scheme in ("redis", "rediss", "unix"):
        return RedisTopology("single", url)
    base, plus, form = scheme.partition("+")
    if not plus or base not in ("redis", "rediss") or form not in ("cluster", "sentinel"):
        raise ValidationError(
            f"{redact_url(url)!r}: unknown scheme {scheme!r}; use redis://, rediss://, "
            "unix://, redis+cluster:// or redis+sentinel://"
        )
    kind: Kind = "cluster" if form == "cluster" else "sentinel"
    rest, _, query = rest.partition("?")
    location, _, path = rest.partition("/")
    userinfo, at, hostlist = location.rpartition("@")
    default = SENTINEL_PORT if kind == "sentinel" else REDIS_PORT
    hosts = tuple(_host(part, default, url) for part in hostlist.split(","))
    options = parse_qsl(query, keep_blank_values=True)
    sentinel_options = tuple((k, v) for k, v in options if k in SENTINEL_OPTIONS)
    node_options = urlencode([(k, v) for k, v in options if k not in SENTINEL_OPTIONS])
    segments = [segment for segment in path.split("/") if segment]
    service = None
    if kind == "sentinel":
        if not segments:
            raise ValidationError(
                f"{redact_url(url)!r} names no service: redis+sentinel://host:26379/SERVICE"
            )
        service, segments = segments[0], segments[1:]
    db = segments[0] if segments else "0"
    if len(segments) > 1 or not db.isdigit() or (kind == "cluster" and db != "0"):
        where = "a cluster has only database 0" if kind == "cluster" else "one database number"
        raise ValidationError(f"{redact_url(url)!r}: unexpected path {path!r} ({where})")
    first_host, first_port = hosts[0]
    host_text = f"[{first_host}]" if ":" in first_host else first_host
    node_url = f"{base}://{userinfo}{at}{host_text}:{first_port}/{db}"
    if node_options:
        node_url += f"?{node_options}"
    return RedisTopology(kind, url, hosts, service, node_url, sentinel_options)


def _host(part: str, default_port: int, url: str) -> tuple[str, int]:
    """``host[:port]`` or ``[v6 address][:port]``."""
    text = part.strip()
    if text.startswith("["):
        host, _, tail = text[1:].partition("]")
        port_text = tail.removeprefix(":")
    else:
        host, _, port_text = text.partition(":")
    if not host or (port_text and not port_text.isdigit()):
        raise ValidationError(f"{redact_url(url)!r}: {part!r} is not host[:port]")
    return host, int(port_text) if port_text else default_port
