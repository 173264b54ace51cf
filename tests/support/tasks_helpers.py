"""Running task messages inline, the way a worker runs them, for the task tests.

``Consumer(broker).claim()`` then ``alsek.effects.execution.run_message``,
in the test's own thread, so that a test sees each run's ``Report``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from alsek.core import Broker, Message
from alsek.core.consumer import Consumer
from alsek.effects.execution import run_message
from alsek.effects.interpreter import Report
from alsek.pure.codec import message_from_data

MECHANISMS = ("process", "thread", "async")
#: A ManualClock this far ahead of the wall clock sees freshly generated
#: messages (stamped by the wall clock) as ready at once.
AHEAD_MS = 60_000


def claim_next(broker: Broker) -> Message | None:
    """Claim one ready message, as a worker's consumer would."""
    found = Consumer(broker).claim(MECHANISMS, 1)
    return found.messages[0] if found.messages else None


def run_one(broker: Broker) -> Report:
    """Claim and run exactly one ready message."""
    message = claim_next(broker)
    assert message is not None, "no ready message to run"
    return run_message(message, broker)


def run_ready(broker: Broker, limit: int = 20) -> list[Report]:
    """Run every ready message in this thread (callbacks included), at most ``limit``."""
    reports = []
    for _ in range(limit):
        message = claim_next(broker)
        if message is None:
            return reports
        reports.append(run_message(message, broker))
    raise AssertionError(f"still finding messages after {limit} runs")


def queued(broker: Broker) -> list[Message]:
    """Every message waiting in any queue (ready, delayed or leased)."""
    names = sorted(broker.backend.scan("queues"))
    return [message_from_data(broker.backend.get(n), Message) for n in names]


def wait_until(condition: Callable[[], bool], timeout: float = 5.0, what: str = "it") -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds naming ``what``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def no_timestamps(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    """The messages' fields with their timestamps zeroed, to compare two chains."""
    return [{**m.data, "created_at": 0, "updated_at": 0} for m in messages]
