"""Queued messages in their compact stored form (``alsek.pure.payload``), for the
backends that store them under their names (Redis and DiskCache).

A backend writes a message with ``encode_compact`` and reads whatever is stored at a
message's name with ``decode_stored``: the compact form, or the full form that older
versions wrote (and that ``Store.set`` still writes), which is returned as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from alsek.exceptions import DeserializationError, SerializationError, ValidationError
from alsek.pure.payload import compact_payload, expand_payload, is_compact, is_complete

MESSAGE_PREFIX = "queues:"


def is_message_name(name: str | None) -> bool:
    """Whether ``name`` is where a queued message lives."""
    return name is not None and name.startswith(MESSAGE_PREFIX)


def encode_compact(
    encode: Callable[[str, Any], str | bytes],
    name: str,
    data: Any,
    implied: tuple[str, ...] = (),
) -> str | bytes:
    """``data`` (a message's full form) compact, serialized with ``encode``; an empty
    string when nothing differs from the defaults. Any other value is stored as it is,
    unless it would read back as a compact message (a dict of short keys only)."""
    if not is_complete(data):
        if is_compact(data):
            raise SerializationError(
                name, data, ValueError("a dict of compact keys only would read back as a message")
            )
        return encode(name, data)
    try:
        compact = compact_payload(data, implied)
    except ValidationError as error:
        raise SerializationError(name, data, error) from error
    return encode(name, compact) if compact else ""


def decode_stored(
    decode: Callable[[str, Any], Any],
    name: str,
    raw: Any,
    implied: Mapping[str, Any] | None = None,
) -> Any:
    """The full form of the message stored at ``name`` (``raw``, deserialized with
    ``decode``); ``implied``: fields its backend keeps next to the payload."""
    data = {} if raw in (b"", "") else decode(name, raw)
    if not is_compact(data):
        return data  # the full form, or not a message: the consumer says why
    try:
        return expand_payload(data, name, implied)
    except ValidationError as error:
        raise DeserializationError(name, error) from error
