"""The compact stored form of a message: only what differs from the defaults.

A queued message is stored under its name, ``queues:{queue}:tasks:{task}:messages:{uuid}``,
so its stored form leaves out the queue, task name and uuid, and keeps every other
field under a short key only when it differs from the default below. A no-op message
of a task with default settings keeps little more than its creation time.

Both directions are total on ``Message.data``: ``expand_payload(compact_payload(d),
name) == d`` for the data of every message stored at ``name``. The full form (every
field spelled out, ``task_name`` first: what older versions stored) is still read as
it is (``is_full``).

The short keys and the defaults are part of the stored format: stored messages are
read with them, so they never change (a new default is a new short key).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from alsek.exceptions import ValidationError
from alsek.pure.keys import parse_message_name
from alsek.pure.message import FIELDS

#: Fields the name holds: never in the compact form.
IDENTITY = ("task_name", "queue", "uuid")

#: The short key of every other field.
SHORT: Mapping[str, str] = {
    "args": "a",
    "kwargs": "k",
    "metadata": "md",
    "store_result": "s",
    "result_ttl": "rt",
    "progenitor": "pg",
    "retries": "r",
    "timeout": "to",
    "created_at": "c",
    "updated_at": "u",
    "delay": "d",
    "previous_result": "pr",
    "callback_message_data": "cb",
    "backoff_settings": "b",
    "mechanism": "m",
    "is_async": "as",
    "lock": "l",
    "priority": "p",
    "deliveries": "n",
}
_FIELD_OF = {short: field for field, short in SHORT.items()}
#: A callback's data that is not a message's (kept as it is, under its own key).
_RAW_CALLBACK = "cbx"

#: The defaults of the compact form (a task's defaults: ``updated_at`` defaults to
#: ``created_at``; the backoff is ``ExponentialBackoff()``'s, as stored in 2024).
DEFAULTS: Mapping[str, Any] = {
    "args": [],
    "kwargs": {},
    "metadata": None,
    "store_result": False,
    "result_ttl": None,
    "progenitor": None,
    "retries": 0,
    "timeout": 3_600_000,
    "delay": 0,
    "previous_result": None,
    "callback_message_data": None,
    "backoff_settings": {
        "algorithm": "ExponentialBackoff",
        "parameters": {
            "base": 4,
            "factor": 10_000,
            "floor": 60_000,
            "ceiling": 3_600_000,
            "zero_override": True,
        },
    },
    "mechanism": "process",
    "is_async": False,
    "lock": None,
    "priority": 0,
    "deliveries": 0,
}


def _shaped(value: Any) -> Any:
    """``value`` as a JSON round trip returns it (tuples become lists)."""
    if isinstance(value, (list, tuple)):
        return [_shaped(item) for item in value]
    if isinstance(value, dict):
        return {key: _shaped(item) for key, item in value.items()}
    return value


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same types throughout (``True`` is not ``1``, ``1.0`` is not ``1``)."""
    if type(a) is not type(b):
        return False
    if type(a) is dict:
        if a.keys() != b.keys():
            return False
        for key in a:  # noqa: SIM110 - a loop: cheaper than all() on the submit path
            if not _same(a[key], b[key]):
                return False
        return True
    if type(a) is list:
        if len(a) != len(b):
            return False
        for x, y in zip(a, b, strict=True):  # noqa: SIM110 - as above
            if not _same(x, y):
                return False
        return True
    return bool(a == b)


def is_full(data: Any) -> bool:
    """Whether ``data`` is the full form (``Message.data``), not the compact one."""
    return isinstance(data, dict) and "task_name" in data


_FIELD_SET = frozenset(FIELDS)


def is_complete(data: Any) -> bool:
    """Whether ``data`` has exactly a message's fields (what ``compact_payload`` takes)."""
    return isinstance(data, dict) and data.keys() == _FIELD_SET


def is_compact(data: Any) -> bool:
    """Whether stored ``data`` reads as the compact form: a dict of short keys only."""
    return isinstance(data, dict) and all(k in _FIELD_OF or k == _RAW_CALLBACK for k in data)


_NO_DEFAULT: Any = object()


def _default(field: str, data: Mapping[str, Any]) -> Any:
    """The compact form's default of ``field`` (``_NO_DEFAULT``: always stored)."""
    if field == "updated_at":
        return data.get("created_at", _NO_DEFAULT)
    return _shaped(DEFAULTS[field]) if field in DEFAULTS else _NO_DEFAULT


#: How each field is compared with its default: by identity (None, True, False), as an
#: empty sequence, as a dict of exactly the default's types, as a value of the default's
#: type, against the creation time, or never (always kept).
_PLAN = tuple(
    (
        field,
        short,
        DEFAULTS.get(field),
        "always" if field == "created_at" else "created" if field == "updated_at"
        else "is" if DEFAULTS[field] is None or isinstance(DEFAULTS[field], bool)
        else "empty" if isinstance(DEFAULTS[field], list)
        else "dict" if isinstance(DEFAULTS[field], dict)
        else "value",
    )
    for field, short in SHORT.items()
)


def _is_default(how: str, default: Any, value: Any, data: Mapping[str, Any]) -> bool:
    """Whether ``value`` is its field's default in the compact form, type included (this
    runs for every field of every message submitted: the common cases are cheap)."""
    if how == "is":
        return value is default
    if how == "value":
        return type(value) is type(default) and value == default
    if how == "empty":
        return isinstance(value, (list, tuple)) and not value
    if how == "created":
        created = data["created_at"]
        return type(value) is int and type(created) is int and value == created
    if how == "dict":
        return isinstance(value, dict) and value == default and _same(value, default)
    return False


def _compact_callback(data: Any) -> tuple[str, Any]:
    """A callback's message data, compact with its identity when that round-trips exactly."""
    if is_complete(data):
        compact = compact_payload(data)
        compact.update({"t": data["task_name"], "q": data["queue"], "id": data["uuid"]})
        if _same(_shaped(_expand_callback(compact)), _shaped(data)):
            return SHORT["callback_message_data"], compact
    return _RAW_CALLBACK, data


def _expand_callback(compact: Any) -> dict[str, Any]:
    if not isinstance(compact, dict) or not {"t", "q", "id"} <= compact.keys():
        raise ValidationError(f"invalid stored callback: {compact!r}")
    rest = {k: v for k, v in compact.items() if k not in ("t", "q", "id")}
    return _expanded(rest, (compact["q"], compact["t"], compact["id"]), {})


def compact_payload(data: Mapping[str, Any], implied: tuple[str, ...] = ()) -> dict[str, Any]:
    """The compact form of a message's ``data`` (its full form).

    ``implied`` names fields the caller stores elsewhere (a backend's index);
    they are left out, like the identity, and given back to ``expand_payload``.
    """
    if data.keys() != _FIELD_SET:
        missing = [field for field in FIELDS if field not in data]
        raise ValidationError(f"not a message's full data: missing {', '.join(missing)}")
    out: dict[str, Any] = {}
    for field, short, default, how in _PLAN:
        value = data[field]
        if field in implied or _is_default(how, default, value, data):
            continue
        if field == "callback_message_data":
            short, value = _compact_callback(value)
        out[short] = value
    return out


def expand_payload(
    compact: Any, name: str, implied: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The full form of a message stored compact at ``name`` (``implied``: the fields
    kept elsewhere). Raises ``ValidationError`` naming ``name`` for anything else."""
    if not isinstance(compact, dict):
        raise ValidationError(
            f"invalid stored message at {name!r}: expected a dict, got {type(compact).__name__}"
        )
    queue, task_name, uuid = parse_message_name(name)
    return _expanded(compact, (queue, task_name, uuid), implied or {}, name)


def _expanded(
    compact: Mapping[str, Any],
    identity: tuple[str, str, str],
    implied: Mapping[str, Any],
    name: str | None = None,
) -> dict[str, Any]:
    where = f" at {name!r}" if name else ""
    unknown = sorted(k for k in compact if k not in _FIELD_OF and k != _RAW_CALLBACK)
    if unknown:
        raise ValidationError(f"invalid stored message{where}: unknown field(s) {unknown}")
    given = {_FIELD_OF.get(k, "callback_message_data"): v for k, v in compact.items()}
    given.update(implied)
    if "created_at" not in given:
        raise ValidationError(f"invalid stored message{where}: no creation time")
    if "cb" in compact:
        given["callback_message_data"] = _expand_callback(compact["cb"])
    queue, task_name, uuid = identity
    data: dict[str, Any] = {}
    for field in FIELDS:
        if field == "task_name":
            data[field] = task_name
        elif field == "queue":
            data[field] = queue
        elif field == "uuid":
            data[field] = uuid
        elif field in given:
            data[field] = given[field]
        else:
            data[field] = _default(field, given)
    return data
