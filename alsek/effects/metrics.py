"""Prometheus metrics of a worker pool (the optional extra ``alsek[metrics]``).

Recorded in the pool's own process from its observer events: outcomes,
starts and claims are all reported by the parent (process tasks run in
children, but their outcomes come back to the parent's runner threads), so
no metric is ever touched in a task process and prometheus_client's
multiprocess mode is not needed. Queue depths are read from the backend when
scraped (at most once a second).

Metrics::

    alsek_tasks_total{task, queue, outcome}         runs by outcome
    alsek_task_run_seconds{task, queue}             run time (histogram)
    alsek_task_wait_seconds{task, queue}            ready (submitted, or delay over) to start
    alsek_slots{mechanism}                          slots
    alsek_slots_in_use{mechanism}                   slots in use
    alsek_queue_depth{queue, state}                 ready, delayed, running
    alsek_queue_oldest_ready_seconds{queue}         age of the oldest ready message
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from alsek.effects.broker import Broker
from alsek.effects.events import Finished, Observer, Started
from alsek.exceptions import ValidationError
from alsek.pure.outcome import outcome_name

log = logging.getLogger("alsek.worker")

RUN_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
WAIT_BUCKETS_S = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800)
#: Queue depths are read at most this often (seconds), whatever the scrape rate.
DEPTH_CACHE_S = 1.0


def prometheus() -> Any:
    """The prometheus_client module, or a clear error naming the extra to install."""
    try:
        import prometheus_client
    except ImportError:
        raise ValidationError(
            "metrics need prometheus_client, which is not installed: pip install 'alsek[metrics]'"
        ) from None
    return prometheus_client


class QueueDepth:
    """A collector reading queue depths from the backend on scrape (cached)."""

    def __init__(self, broker: Broker, queues: Sequence[str]) -> None:
        self.broker = broker
        self.queues = tuple(queues)
        self.lock = threading.Lock()
        self.read_at = 0.0
        self.rows: list[tuple[str, dict[str, int], int | None]] = []

    def _read(self) -> list[tuple[str, dict[str, int], int | None]]:
        with self.lock:
            if time.monotonic() - self.read_at >= DEPTH_CACHE_S:
                try:
                    self.rows = [
                        (q, self.broker.counts(q), self.broker.oldest_ready_age(q))
                        for q in self.queues
                    ]
                    self.read_at = time.monotonic()
                except Exception as error:  # a scrape during an outage shows the last depths
                    log.warning("metrics: could not read queue depths (%s)", error)
            return self.rows

    def collect(self) -> Iterator[Any]:
        """Prometheus collector protocol."""
        from prometheus_client.core import GaugeMetricFamily

        depth = GaugeMetricFamily(
            "alsek_queue_depth", "Messages in a queue by state", labels=["queue", "state"]
        )
        oldest = GaugeMetricFamily(
            "alsek_queue_oldest_ready_seconds",
            "How long the oldest ready message of a queue has waited",
            labels=["queue"],
        )
        for queue, counts, age in self._read():
            depth.add_metric([queue, "ready"], counts["ready"])
            depth.add_metric([queue, "delayed"], counts["delayed"])
            depth.add_metric([queue, "running"], counts["leased"])
            oldest.add_metric([queue], 0 if age is None else age / 1000)
        yield depth
        yield oldest


class Metrics(Observer):
    """A pool observer recording Prometheus metrics in its own registry.

    Args:
        broker: the pool's broker (queue depths).
        queues: the pool's queues.
        slots: slots per mechanism.
        busy: returns slots in use per mechanism.
    """

    def __init__(
        self,
        broker: Broker,
        queues: Sequence[str],
        slots: dict[str, int],
        busy: Callable[[], dict[str, int]],
    ) -> None:
        client = prometheus()
        self.registry = client.CollectorRegistry()
        self.outcomes = client.Counter(
            "alsek_tasks",
            "Task runs by outcome",
            ["task", "queue", "outcome"],
            registry=self.registry,
        )
        self.run_time = client.Histogram(
            "alsek_task_run_seconds",
            "Run time of tasks",
            ["task", "queue"],
            buckets=RUN_BUCKETS_S,
            registry=self.registry,
        )
        self.wait_time = client.Histogram(
            "alsek_task_wait_seconds",
            "Time from ready (submitted, or its delay over) to start",
            ["task", "queue"],
            buckets=WAIT_BUCKETS_S,
            registry=self.registry,
        )
        total = client.Gauge("alsek_slots", "Slots", ["mechanism"], registry=self.registry)
        used = client.Gauge(
            "alsek_slots_in_use", "Slots in use", ["mechanism"], registry=self.registry
        )
        for mechanism, count in slots.items():
            total.labels(mechanism).set(count)
            used.labels(mechanism).set_function(lambda m=mechanism: busy().get(m, 0))
        self.registry.register(QueueDepth(broker, queues))
        self._server: Any = None

    def on_started(self, event: Started) -> None:
        message = event.message
        wait_s = max(event.at - message.ready_at, 0) / 1000
        self.wait_time.labels(message.task_name, message.queue).observe(wait_s)

    def on_outcome(self, event: Finished) -> None:
        message = event.message
        labels = (message.task_name, message.queue)
        self.outcomes.labels(*labels, outcome_name(event.outcome)).inc()
        if event.duration_ms is not None:
            self.run_time.labels(*labels).observe(event.duration_ms / 1000)

    def text(self) -> str:
        """The metrics in Prometheus' text format."""
        data: bytes = prometheus().generate_latest(self.registry)
        return data.decode()

    def serve(self, port: int, host: str = "127.0.0.1") -> int:
        """Serve ``/metrics`` over HTTP on a daemon thread; returns the port bound."""
        server, _thread = prometheus().start_http_server(port, addr=host, registry=self.registry)
        self._server = server
        bound: int = server.server_address[1]
        log.info("serving Prometheus metrics on http://%s:%d/metrics", host, bound)
        return bound

    def close(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def metrics_for(pool: Any) -> Metrics:
    """Metrics observing ``pool`` (a ``WorkerPool``), added as one of its observers."""
    metrics = Metrics(pool.broker, pool.queues, pool.slot_limits(pool.capacity), pool.busy)
    pool.add_observer(metrics)
    return metrics
