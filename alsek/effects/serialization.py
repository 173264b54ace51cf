"""Serializers turn plain data into what a backend stores, and back.

A serializer belongs to a backend, which uses it for everything it stores.
"""

from __future__ import annotations

import json
from typing import Any


class Serializer:
    """Base class: ``forward`` encodes, ``reverse`` decodes."""

    def forward(self, obj: Any) -> str | bytes:
        """Encode ``obj``; raise ``TypeError``/``ValueError`` when it cannot."""
        raise NotImplementedError  # abstract

    def reverse(self, data: str | bytes) -> Any:
        """Decode what ``forward`` produced."""
        raise NotImplementedError  # abstract


class JsonSerializer(Serializer):
    """Compact JSON: readable in ``redis-cli``, safe (no pickle)."""

    def forward(self, obj: Any) -> str:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)

    def reverse(self, data: str | bytes) -> Any:
        return json.loads(data)
