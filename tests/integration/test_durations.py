"""A ``timedelta`` is accepted wherever milliseconds are, on every backend."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alsek.core import Broker, Lock, task
from alsek.core.backoff import ConstantBackoff
from alsek.core.consumer import Consumer
from alsek.effects.backends.base import Backend
from alsek.exceptions import ResultTimeoutError, ValidationError
from alsek.storage.result import ResultStore


def test_task_options_and_generate_take_timedeltas(backend: Backend) -> None:
    broker = Broker(backend)

    @task(
        broker,
        name="dur_options",
        timeout=timedelta(minutes=2),
        backoff=ConstantBackoff(constant=timedelta(seconds=5), floor=timedelta(seconds=1)),
    )
    def dur_options() -> int:
        return 1

    assert dur_options.timeout == 120_000
    assert dur_options.backoff is not None and dur_options.backoff.get(1) == 5_000
    message = dur_options.generate(
        delay=timedelta(hours=1), timeout=timedelta(seconds=3), result_ttl=timedelta(days=1)
    )
    assert (message.delay, message.timeout, message.result_ttl) == (3_600_000, 3_000, 86_400_000)
    assert message.backoff_settings == {
        "algorithm": "ConstantBackoff",
        "parameters": {
            "constant": 5_000,
            "floor": 1_000,
            "ceiling": 3_600_000,
            "zero_override": True,
        },
    }
    stored = broker.sync(message)
    assert stored.delay == 3_600_000
    assert broker.counts(message.queue) == {"ready": 0, "delayed": 1, "leased": 0}


def test_bounds_on_timedeltas_are_those_of_milliseconds(backend: Backend) -> None:
    broker = Broker(backend)

    @task(broker, name="dur_bounds")
    def dur_bounds() -> int:
        return 1

    with pytest.raises(ValidationError, match=r"delay must be an int >= 0"):
        dur_bounds.generate(delay=timedelta(seconds=-1))
    with pytest.raises(ValidationError, match=r"timeout must be an int >= 1 and <= "):
        dur_bounds.generate(timeout=timedelta(days=365 * 101))
    with pytest.raises(ValidationError, match="delay must be a whole number of milliseconds"):
        dur_bounds.generate(delay=timedelta(microseconds=1500))
    with pytest.raises(ValidationError, match="timeout must be an int >= 1"):
        task(broker, name="dur_bad", timeout=timedelta(0))(lambda: 1)
    assert backend.count("queues:*") == 0  # nothing was written


def test_result_get_timeout_lock_ttl_and_nack_delay(backend: Backend) -> None:
    broker = Broker(backend, dlq_ttl=timedelta(days=7))
    assert broker.dlq_ttl == 604_800_000
    results = ResultStore(backend)

    @task(broker, name="dur_results", result_store=results)
    def dur_results() -> int:
        return 1

    message = dur_results.generate()
    with pytest.raises(ResultTimeoutError, match="within 20 ms"):
        results.get(message, timeout=timedelta(milliseconds=20))

    lock = Lock("dur_lock", backend, ttl=timedelta(seconds=30))
    assert lock.ttl == 30_000
    assert lock.acquire(blocking=True, timeout=timedelta(seconds=1))
    assert lock.extend(timedelta(minutes=1))
    assert lock.release()

    (claimed,) = Consumer(broker).claim(("process",), 1).messages
    assert broker.nack(claimed, delay=timedelta(hours=2))
    assert broker.sync(claimed).delay == 7_200_000
