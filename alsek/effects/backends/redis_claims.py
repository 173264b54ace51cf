"""The arguments of ``claim.lua`` and its reply, built and parsed in one place."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from alsek.effects.backends.records import ClaimBatch, CorruptPayload, Encoded
from alsek.effects.backends.redis_connection import _text
from alsek.exceptions import DeserializationError
from alsek.pure.queue_model import Claim, LeaseRef

CLAIM_FIELDS = 7  # name, queue, payload, token, deliveries, deadline, mechanism


def claim_args(
    queues: Sequence[str] | None,
    mechanisms: Sequence[str],
    now: int,
    lease_ms: int,
    tokens: Sequence[str],
    acks: Sequence[LeaseRef] = (),
    virtual: bool = False,
    caps: Mapping[str, int] | None = None,
) -> list[Any]:
    """The script's name and ARGV after the namespace (``claim.lua`` documents them)."""
    order = list(queues) if queues is not None else []
    kinds = [
        part
        for kind in mechanisms
        for part in (kind, len(tokens) if caps is None else caps.get(kind, 0))
    ]
    return [
        "claim",
        now,
        "1" if virtual else "0",
        lease_ms,
        len(mechanisms),
        *kinds,
        len(order),
        *order,
        len(tokens),
        *tokens,
        len(acks),
        *[part for ack in acks for part in (ack.queue, ack.name, ack.token)],
    ]


def parse_claim_reply(
    reply: list[Any], decode: Callable[[str, bytes], Any] | None = None
) -> ClaimBatch:
    """The reply of ``claim.lua`` (its header documents the layout) as a ``ClaimBatch``.

    Payloads are decoded with ``decode`` (a payload that does not decode becomes a
    ``CorruptPayload``, for the consumer to dead-letter), or kept ``Encoded`` when
    it is None (a task process decodes its own).
    """
    n_acks = int(reply[1])
    acked = tuple(bool(int(x)) for x in reply[2 : 2 + n_acks])
    claims = []
    for at in range(2 + n_acks, len(reply), CLAIM_FIELDS):
        name, queue, raw, token, deliveries, deadline, mechanism = reply[at : at + CLAIM_FIELDS]
        name = _text(name)
        payload: Any = Encoded(raw)
        if decode is not None:
            try:
                payload = decode(name, raw)
            except DeserializationError as error:
                payload = CorruptPayload(raw, str(error))
        claims.append(
            Claim(
                name=name,
                queue=_text(queue),
                payload=payload,
                token=_text(token),
                deliveries=int(deliveries),
                deadline=int(deadline),
                mechanism=_text(mechanism),
            )
        )
    wake = int(reply[0])
    return ClaimBatch(tuple(claims), None if wake < 0 else wake, acked)
