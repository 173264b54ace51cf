"""Faults on a real ``RedisBackend``, injected inside redis-py's connection.

The backend keeps its own client, pool, retry policy and error handling:
only the pool's connection class changes, to a subclass that consults a
``FaultInjector`` for every command it sends. A refused command (OOM,
NOREPLICAS, READONLY, MISCONF, BUSY) is never carried out: a ``PING`` goes in
its place, and the reply is replaced by the server's error text, parsed by
redis-py's own parser (so the exception classes and messages are exactly a
real server's, including the ``script: ...`` suffix of an error raised
inside a Lua script). A timeout or connection reset either happens before
the command reaches the server, or - ``applied`` - after the server carried
it out, when only its reply is lost; either way the connection is dropped
as redis-py does on such errors, and redis-py's retry policy runs.
"""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

from redis._parsers.base import BaseParser
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from alsek.effects.backends import redis_lua as lua
from tests.support.fault_plan import Command, FaultInjector, Rule, instrument

#: The servers' own texts (Redis 7).
REPLIES = {
    "oom": "OOM command not allowed when used memory > 'maxmemory'.",
    "noreplicas": "NOREPLICAS Not enough good replicas to write.",
    "readonly": "READONLY You can't write against a read only replica.",
    "misconf": (
        "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to "
        "persist to disk. Commands that may modify the data set are disabled, because this "
        "instance is configured to report errors during writes if RDB snapshotting fails "
        "(stop-writes-on-bgsave-error option). Please check the Redis logs for details about "
        "the RDB error."
    ),
    "busy": (
        "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
    ),
}
#: Refusals a script meets at its first write, reported with the script's sha.
_IN_SCRIPT = ("oom", "noreplicas", "readonly", "misconf")

#: Commands a server refuses when out of memory (its ``denyoom`` flag).
GROWS = frozenset(
    {
        "SET", "SETEX", "PSETEX", "SETNX", "GETSET", "MSET", "APPEND", "INCR", "INCRBY", "DECR",
        "DECRBY", "RPUSH", "LPUSH", "LINSERT", "HSET", "HSETNX", "HINCRBY", "ZADD", "ZINCRBY",
        "SADD", "XADD", "COPY", "LMOVE", "BLMOVE", "RPOPLPUSH", "EVAL", "EVALSHA", "FCALL",
        "RESTORE"
    }
)
#: Commands that change data (its ``write`` flag).
WRITES = GROWS | frozenset(
    {
        "DEL", "UNLINK", "GETDEL", "EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT", "PERSIST", "LPOP",
        "RPOP", "BLPOP", "BRPOP", "LTRIM", "LREM", "HDEL", "ZREM", "ZPOPMIN", "ZPOPMAX", "BZPOPMIN",
        "ZREMRANGEBYSCORE", "SREM", "SPOP", "RENAME", "FLUSHALL", "FLUSHDB"
    }
)
#: Connection set-up and health checks.
SETUP = frozenset({"HELLO", "AUTH", "CLIENT", "SELECT", "READONLY", "PING"})


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def describe(args: tuple[Any, ...]) -> Command:
    """Classify a redis-py command (``("SET", key, value)``, ``("EVALSHA", sha, ...)``).

    A Lua script counts as a write that may grow memory: a real server
    refuses a script at its first such write, before it changed anything,
    so a refusal is of the whole call. (A real server lets through a script
    that writes nothing on its path, or whose first write only deletes,
    even when out of memory; a plan may still refuse such a call.)
    Connection set-up and health checks (``HELLO``, ``CLIENT``, ``PING``...)
    are never failed: redis-py ignores or retries what they answer.
    """
    name = _text(args[0]).split()[0].upper()
    if name in ("EVALSHA", "EVAL") and len(args) > 1:
        label = f"EVALSHA {_text(args[1])}" if name == "EVALSHA" else "EVAL"
        # A script flagged allow-oom is never refused for memory.
        grows = name != "EVALSHA" or _text(args[1]) not in _ALLOW_OOM
        return Command(name=label, write=True, grows=grows)
    return Command(name=name, write=name in WRITES, grows=name in GROWS, setup=name in SETUP)


_SCRIPTS = [
    lua.script(path.stem)
    for path in (Path(lua.__file__).parent / "lua").glob("*.lua")
    if path.stem != "prelude"
]
#: Scripts that declare their flags (``#!lua``): the server checks them before running.
_FLAGGED = frozenset(s.sha for s in _SCRIPTS if s.source.startswith("#!lua"))
_ALLOW_OOM = frozenset(s.sha for s in _SCRIPTS if s.source.startswith("#!lua flags=allow-oom"))


def error_for(rule: Rule, command: Command, host: str) -> Exception:
    """The exception redis-py raises when the server answers ``command`` with ``rule``'s fault."""
    if rule.kind == "timeout":
        return RedisTimeoutError(f"Timeout reading from {host}")
    if rule.kind == "connection":
        return RedisConnectionError(
            f"Error while reading from {host} : (104, 'Connection reset by peer')"
        )
    text = REPLIES[rule.kind]
    # A script with a #!lua line is refused before it starts: no script suffix.
    sha = command.name.split()[1] if command.name.startswith("EVALSHA ") else None
    if rule.kind in _IN_SCRIPT and sha is not None and sha not in _FLAGGED:
        text += f" script: {command.name.split()[1]}, on @user_script:1."
    error: Exception = BaseParser.parse_error(text)
    return error


def connection_class(base: type[Any], injector: FaultInjector) -> type[Any]:
    """A subclass of redis-py's connection class ``base`` that fails commands per plan."""

    class FaultyConnection(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # One entry per command on the wire, in order: (rule or None, command).
            self._fault_planned: collections.deque[tuple[Rule | None, Command | None]] = (
                collections.deque()
            )
            self._fault_packed: list[tuple[Rule | None, Command | None]] | None = None

        def _fault_host(self) -> str:
            return f"{getattr(self, 'host', '?')}:{getattr(self, 'port', '?')}"

        def _fault_plan(
            self, args: tuple[Any, ...]
        ) -> tuple[tuple[Any, ...], Rule | None, Command]:
            command = describe(args)
            rule = injector.choose(command)
            if rule is None or rule.applied:
                return args, rule, command
            if rule.kind == "connection":  # reset before the command left
                injector.record(rule, command)
                self.disconnect()
                raise RedisConnectionError(
                    "Error 104 while writing to socket. Connection reset by peer."
                )
            return ("PING",), rule, command  # refused or timed out: never carried out

        def send_command(self, *args: Any, **kwargs: Any) -> None:
            sent, rule, command = self._fault_plan(args)
            self._fault_packed = [(rule, command)]
            super().send_command(*sent, **kwargs)  # through send_packed_command below

        def pack_commands(self, commands: Any) -> Any:
            planned, sent = [], []
            for args in commands:
                real, rule, command = self._fault_plan(tuple(args))
                planned.append((rule, command))
                sent.append(real)
            self._fault_packed = planned
            return super().pack_commands(sent)

        def send_packed_command(self, command: Any, check_health: bool = True) -> None:
            # Taken before sending: a health check may send (and plan) its own PING first.
            packed, self._fault_packed = self._fault_packed, None
            super().send_packed_command(command, check_health)
            self._fault_planned.extend(packed or [(None, None)])

        def read_response(self, *args: Any, **kwargs: Any) -> Any:
            rule, command = self._fault_planned.popleft() if self._fault_planned else (None, None)
            if rule is None or command is None:
                return super().read_response(*args, **kwargs)
            try:
                response = super().read_response(*args, **kwargs)
            except ResponseError as refused:  # the server's own answer, lost with the rest
                response = refused
            injector.record(rule, command, reply=response if rule.applied else None)
            error = error_for(rule, command, self._fault_host())
            if rule.kind in ("timeout", "connection"):
                self.disconnect()
            raise error

        def disconnect(self, *args: Any, **kwargs: Any) -> None:
            planned = getattr(self, "_fault_planned", None)
            if planned is not None:
                planned.clear()
            super().disconnect(*args, **kwargs)

    FaultyConnection.__name__ = f"Faulty{base.__name__}"
    return FaultyConnection


def install(backend: Any, injector: FaultInjector) -> None:
    """Make ``backend`` (a RedisBackend not yet used) fail commands as ``injector`` plans."""
    pool = backend.conn.connection_pool
    pool.connection_class = connection_class(pool.connection_class, injector)
    pool.disconnect()  # connections made before now were of the plain class
    instrument(backend, injector)
