"""Distributed locks (``alsek.core.lock``)."""

from alsek.effects.lock import Lock

__all__ = ["Lock"]
