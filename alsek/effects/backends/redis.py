"""Redis backend: the queue index in Lua, one round trip a claim.

The connection and the store primitives are ``RedisStore`` (``redis_store.py``);
the scripts are ``lua/*.lua`` (``redis_lua.py``), each documenting its keys,
arguments and reply.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import redis

from alsek.effects.backends import redis_lua as lua
from alsek.effects.backends import redis_sharded as sharded
from alsek.effects.backends import transfer
from alsek.effects.backends.records import (
    ClaimBatch,
    ResultWrite,
    Submission,
)
from alsek.effects.backends.redis_claims import claim_args, parse_claim_reply
from alsek.effects.backends.redis_connection import MAX_BLOCK_S, _text
from alsek.effects.backends.redis_errors import unavailable as _unavailable
from alsek.effects.backends.redis_store import RedisStore, _flag
from alsek.effects.clock import submission_token
from alsek.effects.serialization import Serializer
from alsek.pure.keys import dead_letter_message_name
from alsek.pure.ordering import member_rest
from alsek.pure.queue_model import DeliveryChange, IndexEntry, LeaseRef, delivery_update
from alsek.pure.redis_keys import index_key, registry_key, signal_key

__all__ = ["RedisBackend", "parse_claim_reply"]


def _entry_args(entry: IndexEntry) -> list[Any]:
    """Slot kind, priority, ready time and the rest of the ordering member, for the
    scripts (which build the member with the ready time on the server's clock)."""
    rest = member_rest(entry.created_at, entry.name)
    return [entry.mechanism, entry.priority, entry.ready_at, rest]


class RedisBackend(RedisStore):
    """Redis storage.

    Args:
        conn: a URL (``"redis://host:port/db"``, ``"redis+sentinel://host:26379/name"``,
            ``"redis+cluster://host:port,host:port"``), a ``redis.Redis`` (also one from
            ``Sentinel(...).master_for(name)``), a ``redis.cluster.RedisCluster``, a
            ``LazyClient`` returning one of them, or None for ``$ALSEK_REDIS_URL``,
            else localhost:6379 (connected on first use).
        namespace: prefix of every key.
        serializer: value encoding (JSON by default).
        replicas: submits and recorded outcomes return only once this many replicas
            have them (``WAIT``), so that a failover cannot lose them; 0 (the default)
            does not wait. A write the replicas do not confirm within
            ``replica_timeout`` ms raises ``BackendUnavailableError``.

    Run it with ``maxmemory-policy noeviction`` and AOF persistence for the delivery
    guarantees (see the README's "Guarantees", and the docs' "Scaling" for Sentinel
    and Cluster).
    """

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickles as how to reopen it (for task processes), not as live sockets."""
        recipe = transfer.redis_recipe(self._conn, self._url, self._from_url)
        options = (self.replicas, self.replica_timeout)
        return _reopen, (recipe, self.namespace, self.serializer, options)

    @_unavailable
    def settle(
        self,
        queue: str,
        name: str,
        token: str | None,
        result: ResultWrite | None,
        callback: Submission | None,
        now: int,
        virtual: bool = False,
    ) -> bool:
        """Write a result (once), submit a callback and ack: one atomic, fenced script
        (on a cluster, in steps when the result or the callback is on another shard)."""
        if self.cluster:
            return sharded.settle(self, queue, name, token, result, callback, now, virtual)
        return self._settle(queue, name, token, result, callback, now, virtual)

    def _settle(
        self,
        queue: str,
        name: str,
        token: str | None,
        result: ResultWrite | None,
        callback: Submission | None,
        now: int,
        virtual: bool,
    ) -> bool:
        args: list[Any] = [queue, name, token or "", now, _flag(virtual)]
        extra: list[Any] = []
        if result is None:
            args += ["", "", "", ""]
        else:
            args += [
                self.full_name(result.name),
                self.encode(result.name, result.value),
                "" if result.ttl is None else result.ttl,
                signal_key(self.namespace, result.name),
            ]
            for extra_name, extra_value in result.extra:
                extra += [self.full_name(extra_name), self.encode(extra_name, extra_value)]
        if callback is None:
            args += ["", "", "", "", "", "", ""]
        else:
            entry = callback.entry
            args += [entry.queue, entry.name, self.encode_message(entry.name, callback.value)]
            args += _entry_args(entry)
        return bool(self._run("settle", *args, len(extra) // 2, *extra, on=queue, durable=True))

    def _lease_is(self, queue: str, name: str, token: str) -> bool:
        """Whether ``token`` holds the lease on ``name`` now."""
        key = index_key(self.namespace, queue, "leased")
        return self.conn.zscore(key, f"{name}|{token}") is not None

    # -- queue operations --------------------------------------------------------

    @_unavailable
    def known_queues(self) -> list[str]:
        return sorted(_text(q) for q in self.conn.smembers(registry_key(self.namespace)))

    @_unavailable
    def enqueue(
        self, entry: IndexEntry, value: Any, now: int, nx: bool = True, virtual: bool = False
    ) -> bool:
        encoded = self.encode_message(entry.name, value)
        self._register(entry.queue)
        return bool(
            self._run(
                "enqueue",
                entry.queue,
                entry.name,
                encoded,
                *_entry_args(entry),
                now,
                _flag(virtual),
                1 if nx else 0,
                submission_token(),  # the same on a retry of this call, new on the next call
                on=entry.queue,
                durable=True,
            )
        )

    @_unavailable
    def enqueue_many(
        self, items: Sequence[tuple[IndexEntry, Any]], now: int, virtual: bool = False
    ) -> list[bool]:
        if not items:
            return []
        encoded = [(entry, self.encode_message(entry.name, value)) for entry, value in items]
        self._register(*dict.fromkeys(entry.queue for entry, _ in items))
        calls = [
            (
                "enqueue",
                [entry.queue, entry.name, raw, *_entry_args(entry), now, _flag(virtual), 1,
                 submission_token()],
                entry.queue,
            )
            for entry, raw in encoded
        ]
        return [bool(x) for x in self._run_many(calls, durable=True)]

    @_unavailable
    def claim(
        self,
        queues: Sequence[str] | None,
        mechanisms: Sequence[str],
        now: int,
        lease_ms: int,
        tokens: Sequence[str],
        acks: Sequence[LeaseRef] = (),
        decode: bool = True,
        virtual: bool = False,
        caps: Mapping[str, int] | None = None,
    ) -> ClaimBatch:
        decoder = self.decode if decode else None
        if self.cluster:
            return sharded.claim(
                self, queues, mechanisms, now, lease_ms, tokens, acks, decoder, virtual, caps
            )
        args = claim_args(queues, mechanisms, now, lease_ms, tokens, acks, virtual, caps)
        return parse_claim_reply(self._run(*args, durable=bool(acks)), decoder)

    @_unavailable
    def wait_and_claim(
        self,
        queues: Sequence[str] | None,
        mechanisms: Sequence[str],
        clock: Callable[[], int],
        lease_ms: int,
        tokens: Sequence[str],
        block_ms: int,
        wake_key: str | None = None,
        decode: bool = True,
        virtual: bool = False,
        caps: Mapping[str, int] | None = None,
    ) -> ClaimBatch:
        keys = self._signals(queues, wake_key)
        if block_ms <= 0 or not keys or virtual or self.cluster:
            return super().wait_and_claim(
                queues, mechanisms, clock, lease_ms, tokens, block_ms, wake_key, decode, virtual,
                caps,
            )
        # The claim waits in the connection's pipeline behind the blocking pop, so
        # it runs on the server the moment work arrives: one round trip, not two.
        # It reads the server's clock when it runs, so the wait never eats into
        # the lease; only the times it sends back are read against ours.
        args = claim_args(queues, mechanisms, clock(), lease_ms, tokens, caps=caps)
        pipe = self.fast.pipeline(transaction=False)
        pipe.blpop(keys, timeout=min(block_ms / 1000, MAX_BLOCK_S))
        lua.queue(pipe, args[0], [self.namespace, *args[1:]])
        try:
            reply = pipe.execute()[1]
        except redis.exceptions.NoScriptError:  # first use, or the server restarted
            lua.load(self.fast, args[0])
            reply = self._run(*args)
        return parse_claim_reply(reply, self.decode if decode else None)

    @_unavailable
    def renew(
        self, queue: str, name: str, token: str, now: int, lease_ms: int, virtual: bool = False
    ) -> bool:
        reply = self._run("renew", now, _flag(virtual), lease_ms, queue, name, token, on=queue)
        return bool(reply[0])

    @_unavailable
    def renew_many(
        self,
        leases: Sequence[LeaseRef],
        now: int,
        lease_ms: int,
        virtual: bool = False,
    ) -> list[bool]:
        if not leases:
            return []
        if self.cluster:
            return sharded.renew_many(self, leases, now, lease_ms, virtual)
        flat = [part for ref in leases for part in (ref.queue, ref.name, ref.token)]
        return [bool(x) for x in self._run("renew", now, _flag(virtual), lease_ms, *flat)]

    @_unavailable
    def ack(self, queue: str, name: str, token: str | None) -> bool:
        return bool(self._run("ack", queue, name, token or "", on=queue, durable=True))

    @_unavailable
    def release(
        self,
        queue: str,
        name: str,
        token: str | None,
        entry: IndexEntry,
        value: Any,
        deliveries: DeliveryChange = "keep",
        now: int = 0,
        virtual: bool = False,
    ) -> bool:
        encoded = self.encode_message(name, value)
        update = delivery_update(deliveries)
        self._register(queue)
        return bool(
            self._run(
                "release",
                queue,
                name,
                token or "",
                encoded,
                *_entry_args(entry),
                now,
                _flag(virtual),
                "1" if update.reset else "0",
                update.delta,
                on=queue,
                durable=True,
            )
        )

    @_unavailable
    def dead_letter(
        self,
        queue: str,
        name: str,
        token: str | None,
        dlq_name: str | None,
        dlq_value: Any,
        dlq_ttl: int | None,
        failed_at: int | None = None,
    ) -> bool:
        """Move a message to ``dlq_name``, indexed (``redis_dead_letters``) when it is a
        ``dlq:`` name, in one atomic, fenced script (or just drop it when None)."""
        encoded = self.encode(dlq_name, dlq_value) if dlq_name is not None else ""
        member = dead_letter_message_name(dlq_name) if dlq_name is not None else None
        return bool(
            self._run(
                "dead_letter",
                queue,
                name,
                token or "",
                self.full_name(dlq_name) if dlq_name is not None else "",
                encoded,
                "" if dlq_ttl is None else dlq_ttl,
                member or "",
                int(time.time() * 1000) if failed_at is None else failed_at,
                on=queue,
                durable=True,
            )
        )

    @_unavailable
    def queue_counts(self, queue: str, now: int, virtual: bool = False) -> dict[str, int]:
        ready, delayed, leased = self._run("counts", queue, now, _flag(virtual), on=queue)
        return {"ready": int(ready), "delayed": int(delayed), "leased": int(leased)}

def _reopen(
    recipe: tuple[str, Any],
    namespace: str,
    serializer: Serializer,
    options: tuple[int, int] = (0, 1_000),
) -> RedisBackend:
    """A ``RedisBackend`` from how another process's one pickled itself."""
    replicas, timeout = options
    client = transfer.reopen_redis_client(recipe)
    return RedisBackend(client, namespace, serializer, replicas=replicas, replica_timeout=timeout)
