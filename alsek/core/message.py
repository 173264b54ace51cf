"""The Message (``alsek.core.message``)."""

from alsek.effects.message import Message

__all__ = ["Message"]
