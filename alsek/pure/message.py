"""The Message record: everything needed to run one task invocation.

A message is immutable. Transitions (``alsek.pure.transitions``) return new
records built with ``attrs.evolve`` so that a subclass (the public
``alsek.core.Message``, which adds clock-reading properties) is preserved.
Timestamps are integer UTC milliseconds; ``ready_at = updated_at + delay``.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Literal

import attrs

from alsek import defaults
from alsek.exceptions import ValidationError
from alsek.pure.validate import check_duration, check_int, check_priority

Mechanism = Literal["process", "thread"]
MECHANISMS: tuple[Mechanism, ...] = ("process", "thread")
#: What a claimed message occupies in a worker pool: a thread, a task process,
#: or a place on the pool's event loop (a coroutine of a thread-mechanism task).
#: Queues index messages by it, so a pool claims only what it can start.
SlotKind = Literal["process", "thread", "async"]
SLOT_KINDS: tuple[SlotKind, ...] = ("process", "thread", "async")


def slot_kind_of(mechanism: str, is_async: bool) -> SlotKind:
    """The slot a message of ``mechanism`` takes: a coroutine of a thread-mechanism task
    runs on the pool's event loop; one of a process-mechanism task runs in a task
    process, one at a time, like any process task."""
    if mechanism == "thread":
        return "async" if is_async else "thread"
    return "process"


#: Field order of ``Message.data`` and of the repr (the tour's order first).
FIELDS: tuple[str, ...] = (
    "task_name",
    "queue",
    "args",
    "kwargs",
    "metadata",
    "store_result",
    "result_ttl",
    "uuid",
    "progenitor",
    "retries",
    "timeout",
    "created_at",
    "updated_at",
    "delay",
    "previous_result",
    "callback_message_data",
    "backoff_settings",
    "mechanism",
    "is_async",
    "lock",
    "priority",
    "deliveries",
)

#: Key separators and glob syntax (Redis also escapes with a backslash), so
#: that a pattern built from a name matches that name only.
_FORBIDDEN_IN_NAMES = (":", "*", "?", "[", "]", "|", "\\")


def check_name(kind: str, value: Any) -> str:
    """Validate a queue or task name: a non-empty string free of key syntax."""
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{kind} must be a non-empty string, got {value!r}")
    bad = [c for c in _FORBIDDEN_IN_NAMES if c in value]
    if bad:
        raise ValidationError(
            f"{kind} {value!r} must not contain {', '.join(repr(c) for c in bad)} "
            "(they are separators in storage keys)"
        )
    return value


def _name(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    check_name(f"Message.{attribute.name}", value)


def _int_within(lo: int, hi: int | None = None, unit: str = "") -> Any:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        check_int(f"Message.{attribute.name}", value, lo, hi, unit)

    return check


def _duration(lo: int) -> Any:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        check_duration(f"Message.{attribute.name}", value, lo)

    return check


def _optional_ttl(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None:
        check_duration(f"Message.{attribute.name}", value, 1)


def _priority(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    check_priority("Message.priority", value)


#: Timestamps: UTC ms up to the end of year 9999 (keeps every ready time exact).
timestamp_validator = _int_within(0, defaults.MAX_TIMESTAMP_MS, "UTC ms")


def _mechanism(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value not in MECHANISMS:
        raise ValidationError(f"Message.mechanism must be 'process' or 'thread', got {value!r}")


def _uuid(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    check_name("Message.uuid", value)


def _optional_str(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise ValidationError(f"Message.{attribute.name} must be a str or None, got {value!r}")


def _optional_dict(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not isinstance(value, dict):
        raise ValidationError(f"Message.{attribute.name} must be a dict or None, got {value!r}")


def _kwargs(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ValidationError(f"Message.kwargs must be a dict with str keys, got {value!r}")


def _bool(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, bool):
        raise ValidationError(f"Message.{attribute.name} must be a bool, got {value!r}")


def _to_tuple(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
        raise ValidationError(f"Message.args must be a sequence of arguments, got {value!r}")
    return tuple(value)


def _to_kwargs(value: Any) -> Any:
    return {} if value is None else value


def _json_shaped(value: Any) -> Any:
    """``value`` with every tuple turned into a list, as a JSON round trip returns it."""
    if isinstance(value, (tuple, list)):
        return [_json_shaped(item) for item in value]
    if isinstance(value, dict):
        return {key: _json_shaped(item) for key, item in value.items()}
    return value


def _to_callback_data(value: Any) -> Any:
    # Nested data comes from ``Message.data``, whose ``args`` is a tuple; stored
    # as JSON it comes back a list. Keep the JSON shape so a message with a
    # callback equals itself read back from a backend.
    return _json_shaped(value) if isinstance(value, dict) else value


def format_timestamp(ms: int) -> str:
    """UTC milliseconds as ``'YYYY-MM-DD HH:MM:SS.ffffff'`` (the tour's repr)."""
    return (_dt.datetime(1970, 1, 1) + _dt.timedelta(milliseconds=ms)).strftime(
        "%Y-%m-%d %H:%M:%S.%f"
    )


@attrs.frozen(kw_only=True, repr=False)
class Message:
    """One task invocation, as stored by the broker.

    Required: ``task_name``, ``uuid`` and ``created_at`` (pure code never
    invents ids or reads clocks). ``updated_at`` defaults to ``created_at``.
    ``lock`` holds the lease token while a consumer holds the message and
    ``deliveries`` counts how often it was handed out since its last
    recorded outcome (a value above 1 means this run may be a duplicate).
    ``is_async`` says the task's function is a coroutine function.
    """

    task_name: str = attrs.field(validator=_name)
    queue: str = attrs.field(default=defaults.DEFAULT_QUEUE, validator=_name)
    args: tuple[Any, ...] = attrs.field(default=(), converter=_to_tuple)
    kwargs: dict[str, Any] = attrs.field(factory=dict, converter=_to_kwargs, validator=_kwargs)
    metadata: Any = None
    store_result: bool = attrs.field(default=False, validator=_bool)
    result_ttl: int | None = attrs.field(default=None, validator=_optional_ttl)
    uuid: str = attrs.field(validator=_uuid)
    progenitor: str | None = attrs.field(default=None, validator=_optional_str)
    retries: int = attrs.field(default=0, validator=_int_within(0))
    timeout: int = attrs.field(default=defaults.DEFAULT_TASK_TIMEOUT, validator=_duration(1))
    created_at: int = attrs.field(validator=timestamp_validator)
    updated_at: int = attrs.field(
        default=attrs.Factory(lambda self: self.created_at, takes_self=True),
        validator=timestamp_validator,
    )
    delay: int = attrs.field(default=0, validator=_duration(0))
    previous_result: Any = None
    callback_message_data: dict[str, Any] | None = attrs.field(
        default=None, converter=_to_callback_data, validator=_optional_dict
    )
    backoff_settings: dict[str, Any] | None = attrs.field(default=None, validator=_optional_dict)
    mechanism: Mechanism = attrs.field(default=defaults.DEFAULT_MECHANISM, validator=_mechanism)
    is_async: bool = attrs.field(default=False, validator=_bool)
    lock: str | None = attrs.field(default=None, validator=_optional_str)
    priority: int = attrs.field(default=defaults.DEFAULT_PRIORITY, validator=_priority)
    deliveries: int = attrs.field(default=0, validator=_int_within(0))

    @property
    def data(self) -> dict[str, Any]:
        """Everything the broker persists, as a plain dict (tour order).

        ``kwargs`` is copied: the dict belongs to a frozen record.
        """
        data = {name: getattr(self, name) for name in FIELDS}
        data["kwargs"] = dict(self.kwargs)
        return data

    @property
    def slot_kind(self) -> SlotKind:
        """What this message occupies in a worker pool (``slot_kind_of``)."""
        return slot_kind_of(self.mechanism, self.is_async)

    @property
    def summary(self) -> str:
        """A one-line identification: uuid, queue and task."""
        return f"Message(uuid={self.uuid!r}, queue={self.queue!r}, task={self.task_name!r})"

    @property
    def ready_at(self) -> int:
        """UTC milliseconds at which the message may next be processed."""
        return self.updated_at + self.delay

    def __repr__(self) -> str:
        shown = []
        for name in FIELDS:
            value = getattr(self, name)
            if name in ("created_at", "updated_at"):
                value = format_timestamp(value)
            shown.append(f"    {name}={value!r},")
        body = "\n".join(shown).rstrip(",")
        return f"Message(\n{body}\n)"
