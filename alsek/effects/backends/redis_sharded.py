"""Queue operations on a Redis Cluster, where each script runs on one queue's shard.

- ``claim``: queue by queue, in the consumer's order (all it can take of the first
  before any of the second, as one server does in one script), each queue's acks
  riding on its claim; acks of queues it does not consume go in a pipeline of their own.
- ``settle``: a success whose result, or callback, lives on another shard is recorded
  in steps, each atomic on its shard: the lease is checked, the result written (once)
  and the callback submitted (once, by name), then the message is acked (fenced). A
  worker that dies between the steps leaves its message to be delivered again: the
  result is already there, and the callback is not submitted twice unless it has
  already run and gone.
- ``renew_many``: one script per queue, in one pipeline (each shard gets its part).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from alsek.effects.backends.records import ClaimBatch, ResultWrite, Submission
from alsek.effects.backends.redis_claims import claim_args, parse_claim_reply
from alsek.effects.backends.redis_connection import _flag
from alsek.pure.queue_model import Claim, LeaseRef

if TYPE_CHECKING:
    from alsek.effects.backends.redis import RedisBackend


def _by_queue(refs: Sequence[LeaseRef]) -> dict[str, list[int]]:
    """Indexes of ``refs``, grouped by queue (in order of first appearance)."""
    groups: dict[str, list[int]] = {}
    for i, ref in enumerate(refs):
        groups.setdefault(ref.queue, []).append(i)
    return groups


def claim(
    backend: RedisBackend,
    queues: Sequence[str] | None,
    mechanisms: Sequence[str],
    now: int,
    lease_ms: int,
    tokens: Sequence[str],
    acks: Sequence[LeaseRef],
    decode: Callable[[str, bytes], Any] | None,
    virtual: bool,
    caps: Mapping[str, int] | None,
) -> ClaimBatch:
    """``RedisBackend.claim`` one queue's shard at a time."""
    order = list(queues) if queues is not None else backend.known_queues()
    pending = _by_queue(acks)
    acked = [False] * len(acks)
    claims: list[Claim] = []
    taken = dict.fromkeys(mechanisms, 0)
    left = list(tokens)
    wake: int | None = None
    for queue in order:
        mine = pending.pop(queue, [])
        if not left and not mine:
            continue
        limits = {
            kind: max((len(tokens) if caps is None else caps.get(kind, 0)) - taken[kind], 0)
            for kind in mechanisms
        }
        riders = [acks[i] for i in mine]
        args = claim_args(
            [queue], mechanisms, now, lease_ms, left, riders, virtual, limits
        )
        batch = parse_claim_reply(backend._run(*args, on=queue, durable=bool(riders)), decode)
        for i, ok in zip(mine, batch.acked, strict=True):
            acked[i] = ok
        for got in batch.claims:
            taken[got.mechanism] += 1
        claims.extend(batch.claims)
        left = left[len(batch.claims) :]
        if batch.next_wake is not None:
            wake = batch.next_wake if wake is None else min(wake, batch.next_wake)
    others = [i for indexes in pending.values() for i in indexes]
    if others:
        calls = [("ack", [acks[i].queue, acks[i].name, acks[i].token], acks[i].queue)
                 for i in others]
        for i, ok in zip(others, backend._run_many(calls, durable=True), strict=True):
            acked[i] = bool(ok)
    short = len(claims) < len(tokens)
    return ClaimBatch(tuple(claims), wake if short else None, tuple(acked))


def settle(
    backend: RedisBackend,
    queue: str,
    name: str,
    token: str | None,
    result: ResultWrite | None,
    callback: Submission | None,
    now: int,
    virtual: bool,
) -> bool:
    """``RedisBackend.settle`` in steps when a part of it lives on another shard."""
    elsewhere = callback is not None and callback.entry.queue != queue
    if result is None and not elsewhere:
        return backend._settle(queue, name, token, None, callback, now, virtual)
    if token and not backend._lease_is(queue, name, token):
        return False
    if result is not None:
        backend.set_and_notify(result.name, result.value, True, result.ttl, result.extra)
    if elsewhere and callback is not None:
        backend.enqueue(callback.entry, callback.value, now, nx=True, virtual=virtual)
    return backend._settle(queue, name, token, None, None if elsewhere else callback, now, virtual)


def renew_many(
    backend: RedisBackend, leases: Sequence[LeaseRef], now: int, lease_ms: int, virtual: bool
) -> list[bool]:
    """``RedisBackend.renew_many``, one script per queue, in one pipeline."""
    groups = _by_queue(leases)
    calls = []
    for queue, indexes in groups.items():
        flat = [part for i in indexes for part in (queue, leases[i].name, leases[i].token)]
        calls.append(("renew", [now, _flag(virtual), lease_ms, *flat], queue))
    renewed = [False] * len(leases)
    for indexes, reply in zip(groups.values(), backend._run_many(calls), strict=True):
        for i, ok in zip(indexes, reply, strict=True):
            renewed[i] = bool(ok)
    return renewed
