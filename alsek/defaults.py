"""Default values shared by every layer. All durations are milliseconds."""

from __future__ import annotations

from typing import Final

DEFAULT_NAMESPACE: Final = "alsek"
DEFAULT_QUEUE: Final = "alsek_queue"
DEFAULT_PRIORITY: Final = 0
DEFAULT_TASK_TIMEOUT: Final = 3_600_000
DEFAULT_MECHANISM: Final = "process"
DEFAULT_MAX_RETRIES: Final = 3

#: Visibility timeout of a claimed message. Short on purpose: it is renewed
#: while the task runs, so it bounds how long a dead worker's messages wait.
DEFAULT_LEASE_MS: Final = 30_000
#: How many deliveries may end without an outcome (a crashed process, a dead
#: worker) before the message is dead-lettered instead of redelivered.
DEFAULT_MAX_REDELIVERIES: Final = 3
#: How long a stopping pool lets running tasks finish before releasing them.
DEFAULT_GRACE_MS: Final = 10_000
#: How long a worker thread or process may sit idle before it is retired.
DEFAULT_IDLE_MS: Final = 60_000
#: Thread-mechanism tasks a worker pool runs at once.
DEFAULT_MAX_THREADS: Final = 8
#: Coroutines (``async def`` thread-mechanism tasks) a worker pool runs at once.
DEFAULT_MAX_ASYNC: Final = 100
#: Most messages a worker pool claims in one round trip.
DEFAULT_BATCH: Final = 16
#: Consumer backoff after empty passes (a linear backoff, ms): the longest wait
#: between passes when nothing signals new work.
CONSUMER_BACKOFF_FACTOR: Final = 50
CONSUMER_BACKOFF_FLOOR: Final = 50
CONSUMER_BACKOFF_CEILING: Final = 500
#: How long a message's last error is kept (``errors:{uuid}``, shown by ``inspect``).
DEFAULT_ERROR_TTL_MS: Final = 7 * 24 * 3600 * 1000
#: How long a dead letter is kept (``Broker(dlq_ttl=...)``; None keeps none).
DEFAULT_DLQ_TTL_MS: Final = 7 * 24 * 3600 * 1000
#: How often a worker pool refreshes its record in the worker registry, and how
#: long that record outlives the last refresh (a pool that vanished drops out).
HEARTBEAT_MS: Final = 2_000
HEARTBEAT_TTL_MS: Final = 10_000
#: How often a pool with running tasks checks whether any of them was cancelled.
CANCEL_POLL_MS: Final = 250
#: How long a request to stop a running message waits for a pool to act on it.
CANCEL_REQUEST_TTL_MS: Final = 24 * 3600 * 1000
#: Lower and upper bounds on a priority: Redis keeps scores as doubles.
MIN_PRIORITY: Final = -(2**31)
MAX_PRIORITY: Final = 2**31 - 1

#: Upper bound on every duration in ms (delays, timeouts, ttls): 100 years.
#: Redis scripts compute in doubles and SQLite stores 64-bit integers, so a
#: duration added to a timestamp must stay well below 2**53 to be exact on
#: every backend; this bound keeps any ready time below 10**15 (the width
#: of the ordered members of the Redis index).
MAX_DURATION_MS: Final = 100 * 365 * 24 * 3600 * 1000
MAX_DELAY_MS: Final = MAX_DURATION_MS
MAX_TIMEOUT_MS: Final = MAX_DURATION_MS
MAX_TTL_MS: Final = MAX_DURATION_MS
#: Latest timestamp a message may carry: 9999-12-31T23:59:59.999Z, in UTC ms.
MAX_TIMESTAMP_MS: Final = 253_402_300_799_999
