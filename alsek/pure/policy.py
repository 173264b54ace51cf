"""A task's rules for what happens after a run, as data."""

from __future__ import annotations

import attrs

from alsek import defaults
from alsek.pure.message import Message
from alsek.pure.validate import check_int


def _optional_non_negative(
    instance: object, attribute: attrs.Attribute[int], value: object
) -> None:
    if value is None and attribute.name == "max_retries":
        return
    check_int(attribute.name, value, 0)


@attrs.frozen
class TaskPolicy:
    """Retry and redelivery limits of a task.

    ``max_retries=None`` retries forever. ``max_redeliveries`` bounds how
    many deliveries may end without an outcome (crashes) before the message
    is dead-lettered instead of redelivered: it ends crash loops.
    """

    max_retries: int | None = attrs.field(
        default=defaults.DEFAULT_MAX_RETRIES, validator=_optional_non_negative
    )
    max_redeliveries: int = attrs.field(
        default=defaults.DEFAULT_MAX_REDELIVERIES, validator=_optional_non_negative
    )


def default_should_retry(message: Message, max_retries: int | None) -> bool:
    """The default ``Task.do_retry``: retry while retries remain (None = forever)."""
    return max_retries is None or message.retries < max_retries
