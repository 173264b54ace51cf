"""The Redis backend's Lua scripts: read from ``lua/*.lua``, run by SHA.

Each file documents its KEYS, ARGV and reply in its header, and names the
helper files it runs after (``-- Runs after prelude.lua.``): the queue helpers
in ``prelude.lua``, the dead-letter index's in ``dlq.lua``. Under ``maxmemory`` a server
refuses a script without a ``#!lua`` line only at its first write that may grow
memory, so a script that deletes first would always run: ``enqueue.lua`` starts
with ``#!lua`` (refused whole when out of memory: producers feel the limit),
``renew.lua`` with ``#!lua flags=allow-oom`` (a renewal grows nothing, and a
refused one would let a running task be delivered again). Needs Redis >= 7.

A script is sent by ``EVALSHA`` and loaded only when the server answers
NOSCRIPT (first use, or after a restart, a failover or ``SCRIPT FLUSH``): one round
trip per call, also inside a pipeline. A single primary's client sends no KEYS; a
cluster client names one key of the slot the script works in (``keys``), which routes
it to that slot's shard (``prelude.lua`` says what the scripts do with it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any

import redis
from attrs import frozen


@frozen
class LuaScript:
    """A script's name, full source and SHA1 (as the server names it)."""

    name: str
    source: str
    sha: str


def _read(name: str) -> str:
    return resources.files("alsek.effects.backends").joinpath(f"lua/{name}.lua").read_text()


def _helpers(body: str) -> list[str]:
    """The helper files a script's header names: ``-- Runs after a.lua and b.lua.``"""
    for line in body.splitlines():
        if not line.startswith("--"):
            break
        if line.startswith("-- Runs after "):
            names = line[len("-- Runs after ") :].rstrip(".").replace(" and ", ", ")
            return [part.strip().removesuffix(".lua") for part in names.split(",")]
    return []


@cache
def script(name: str) -> LuaScript:
    """The script ``lua/{name}.lua``, after the helper files its header names.

    A file may start with a ``#!lua`` line (its flags for the server); it stays first.
    """
    body = _read(name)
    shebang = ""
    if body.startswith("#!lua"):
        shebang, body = body.split("\n", 1)
        shebang += "\n"
    source = shebang + "".join(_read(helper) for helper in _helpers(body)) + body
    return LuaScript(name, source, hashlib.sha1(source.encode()).hexdigest())


def run(client: Any, name: str, args: list[Any], keys: Sequence[str] = ()) -> Any:
    """Run script ``name`` with ``args`` (and ``keys``, a cluster's routing) on ``client``
    (a ``redis.Redis`` or a ``RedisCluster``)."""
    lua = script(name)
    try:
        return client.evalsha(lua.sha, len(keys), *keys, *args)
    except redis.exceptions.NoScriptError:
        client.script_load(lua.source)  # (a cluster client loads it on every primary)
        return client.evalsha(lua.sha, len(keys), *keys, *args)


def queue(pipe: Any, name: str, args: list[Any], keys: Sequence[str] = ()) -> None:
    """Add script ``name`` to a pipeline by SHA. If the server answers NOSCRIPT, the
    pipeline raises ``redis.exceptions.NoScriptError``: load it (``load``) and retry."""
    pipe.execute_command("EVALSHA", script(name).sha, len(keys), *keys, *args)


def load(client: Any, name: str) -> None:
    """Load script ``name`` into the server's script cache (every primary of a cluster)."""
    client.script_load(script(name).source)
