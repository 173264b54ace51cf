"""Backoff algorithms (``alsek.core.backoff``)."""

from alsek.pure.backoff import (
    Backoff,
    ConstantBackoff,
    ExponentialBackoff,
    LinearBackoff,
    backoff_from_settings,
)

__all__ = [
    "Backoff",
    "ConstantBackoff",
    "ExponentialBackoff",
    "LinearBackoff",
    "backoff_from_settings",
]
