"""A queued message's value on Redis: a short header, then its compact payload.

The scripts write the header (``lua/prelude.lua`` describes it): the slot kind,
ready and creation times, priority, deliveries and submission token, which the
queue index needs without decoding a payload. The payload leaves out what the
header holds (``IMPLIED``). A value without a header is one stored before this
layout (the full form), read as it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from alsek.effects.backends.payloads import decode_stored, encode_compact
from alsek.pure.ordering import ms_from_sortable

#: Fields the header holds, left out of the payload.
IMPLIED = ("created_at", "priority", "mechanism")

_HEADER = re.compile(rb"@([tpa])([0-o]{8})([0-o]{8})(-?\d+)\|(\d+)\|([^|]*)\|")


def encode_payload(encode: Callable[[str, Any], str | bytes], name: str, data: Any) -> str | bytes:
    """The payload of a message's value (the scripts put the header before it)."""
    return encode_compact(encode, name, data, IMPLIED)


def decode_value(decode: Callable[[str, Any], Any], name: str, raw: str | bytes) -> Any:
    """The full form of the message whose stored value is ``raw``."""
    data = raw.encode() if isinstance(raw, str) else raw
    match = _HEADER.match(data)
    if match is None:
        return decode_stored(decode, name, raw)
    kind, _, created, priority = match.group(1, 2, 3, 4)
    implied = {
        "created_at": ms_from_sortable(created.decode()),
        "priority": int(priority),
        "mechanism": "process" if kind == b"p" else "thread",
    }
    return decode_stored(decode, name, raw[match.end() :], implied)
