"""Values that pass between the broker and a backend's queue operations."""

from __future__ import annotations

from typing import Any

import attrs

from alsek.pure.queue_model import Claim, IndexEntry

_GLOB = set("*?[")


@attrs.frozen
class CorruptPayload:
    """Stands in for a stored message that could not be decoded."""

    raw: Any
    error: str


@attrs.frozen
class Encoded:
    """A claimed payload left encoded (``claim(..., decode=False)``): the
    runner decodes it, off the dispatcher's path."""

    raw: Any


@attrs.frozen
class ClaimBatch:
    """What a claim returned: the claims, when to look again if short, and
    whether each ack that rode along was accepted."""

    claims: tuple[Claim, ...]
    next_wake: int | None
    acked: tuple[bool, ...] = ()


@attrs.frozen
class ResultWrite:
    """A result to write once (``nx``), with extra names written alongside (same ttl)."""

    name: str
    value: Any
    ttl: int | None
    extra: tuple[tuple[str, Any], ...] = ()


@attrs.frozen
class Submission:
    """A message to enqueue unless its name exists (a callback)."""

    entry: IndexEntry
    value: Any


def is_glob(pattern: str) -> bool:
    """Whether ``pattern`` contains glob wildcards."""
    return any(c in _GLOB for c in pattern)
