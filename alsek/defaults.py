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
#: Lower and upper bounds on a priority: Redis keeps scores as doubles.
MIN_PRIORITY: Final = -(2**31)
MAX_PRIORITY: Final = 2**31 - 1
