"""The public ``Message``: the pure record plus defaults and clock-reading views.

``uuid`` and ``created_at`` default to a fresh id and the current time, and
``ttr`` / ``ready`` read the wall clock. Everything else (validation,
``data``, ``summary``, ``ready_at``) is the pure record's.
"""

from __future__ import annotations

import attrs

from alsek.effects.clock import new_uuid, utcnow_ms
from alsek.pure import message as pure_message
from alsek.pure.timing import is_ready, ttr


@attrs.frozen(kw_only=True, repr=False)
class Message(pure_message.Message):
    """A task invocation. See the guided tour's "Messages" section."""

    uuid: str = attrs.field(factory=new_uuid, validator=pure_message._uuid)
    created_at: int = attrs.field(factory=utcnow_ms, validator=pure_message.timestamp_validator)
    updated_at: int = attrs.field(
        default=attrs.Factory(lambda self: self.created_at, takes_self=True),
        validator=pure_message.timestamp_validator,
    )

    @property
    def ttr(self) -> int:
        """Milliseconds until the message is ready (0 when it is)."""
        return ttr(self, utcnow_ms())

    @property
    def ready(self) -> bool:
        """Whether the message may be processed now."""
        return is_ready(self, utcnow_ms())
