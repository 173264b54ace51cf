"""The capacity forecast's model, built from what the live system shows.

Inputs (``ForecastInputs``): per task, the arrivals and run times the live
pools saw over a recent window (``alsek.pure.observation``); per queue, the
ready backlog and how long its oldest ready message has waited; the live
pools' slots. From them:

- a queue's backlog is split between its observed tasks by mechanism (the
  index knows how many ready messages run in threads and in processes), then
  by their arrivals (evenly when none arrived); the share of a task that never
  finished a run, or of a mechanism no observed task has, is left out of the
  model (and listed);
- a task's **arrival rate** is (its arrivals seen in the window + its share of
  the backlog that arrived inside the window) / the window's span. The
  backlog is assumed to have arrived evenly since its oldest message became
  ready;
- a task's **run time** is drawn from its run-time histogram: bucket
  midpoints, scaled so that their mean is the measured mean; from the pools'
  lifetime figures when nothing finished inside the window;
- the **pools** are identical, with the live pools' mean slots per mechanism
  (at least one slot of a mechanism some task needs).

``fluid_drain_ms`` is the back-of-the-envelope answer the simulation is
checked against: work waiting / (slots - work arriving), per mechanism.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import attrs

from alsek.exceptions import ValidationError
from alsek.pure.buckets import bucket_bounds
from alsek.pure.message import check_name
from alsek.pure.observation import Observation, Observed

#: How many run-time samples stand for a task's histogram.
SAMPLES = 40


@attrs.frozen
class QueueBacklog:
    """A queue's ready messages, how long (ms) the oldest has waited, and how many
    of them run in threads and in processes (when known)."""

    queue: str
    ready: int
    oldest_ready_ms: int | None = None
    by_mechanism: dict[str, int] = attrs.field(factory=dict)


@attrs.frozen
class ForecastInputs:
    """Everything the forecast is computed from (shown next to it)."""

    observation: Observation
    queues: tuple[QueueBacklog, ...]
    pools: int
    slots: tuple[tuple[int, int], ...] = ()  # (threads, processes) of each live pool


@attrs.frozen
class TaskModel:
    """One task as the model sees it: its backlog, arrivals per second, mean run time
    and the run times it draws from (``measured`` says where those came from:
    ``window``, ``lifetime`` or ``none``)."""

    task: str
    queue: str
    mechanism: str
    backlog: int
    rate_per_s: float
    mean_run_ms: float
    samples_ms: tuple[int, ...]
    measured: str


@attrs.frozen
class Unmodelled:
    """Ready messages of ``queue`` the model leaves out, and why."""

    queue: str
    ready: int
    reason: str


def mean_slots(slots: Sequence[tuple[int, int]], needs: Sequence[str]) -> tuple[int, int]:
    """``(threads, processes)`` of the model's identical pools: the live pools' means,
    rounded, with at least one slot of each mechanism in ``needs``."""
    threads = round(sum(t for t, _ in slots) / len(slots)) if slots else 0
    processes = round(sum(p for _, p in slots) / len(slots)) if slots else 0
    threads = max(threads, 1 if "thread" in needs or threads + processes == 0 else 0)
    processes = max(processes, 1 if "process" in needs else 0)
    return threads, processes


def run_samples(buckets: Sequence[int], mean_ms: float, count: int = SAMPLES) -> tuple[int, ...]:
    """``count`` run times (ms) standing for a histogram: each bucket's midpoint (twice
    its lower bound for the last, unbounded one), as often as its share of runs
    (largest remainders), then scaled so that their mean is ``mean_ms``. An empty
    histogram gives ``(round(mean_ms),)``."""
    if count < 1:
        raise ValueError(f"run_samples needs count >= 1, got {count}")
    if sum(buckets) <= 0:
        return (max(round(mean_ms), 0),)
    points: list[float] = []
    for index, times in enumerate(split(count, buckets)):
        low, high = bucket_bounds(index)
        points += [(low + (high if high is not None else 2 * low)) / 2] * times
    factor = mean_ms * len(points) / sum(points)
    return tuple(max(round(p * factor), 0) for p in points)


def _run_times(task: Observed) -> tuple[float, tuple[int, ...], str]:
    if task.finished and sum(task.run_buckets):
        mean = task.run_ms_sum / sum(task.run_buckets)
        return mean, run_samples(task.run_buckets, mean), "window"
    if task.lifetime_finished and sum(task.lifetime_buckets):
        mean = task.lifetime_run_ms_sum / sum(task.lifetime_buckets)
        return mean, run_samples(task.lifetime_buckets, mean), "lifetime"
    return 0.0, (), "none"


def _named(task: Observed) -> bool:
    try:
        check_name("task", task.task)
        check_name("queue", task.queue)
    except ValidationError:
        return False
    return task.mechanism in ("thread", "process")


def _arrived_in_window(backlog: QueueBacklog, span_ms: int) -> float:
    """How much of a queue's backlog arrived inside the window (evenly since its oldest)."""
    oldest = backlog.oldest_ready_ms
    if oldest is None or oldest <= span_ms:
        return float(backlog.ready)
    return backlog.ready * span_ms / oldest


def _shares(
    queue: QueueBacklog, siblings: Sequence[Observed]
) -> tuple[list[int], list[Unmodelled]]:
    """Each of a queue's observed tasks' share of its ready messages: split per mechanism
    when the backlog's mechanisms are known, by arrivals within a group (evenly when none
    arrived). Ready messages of a mechanism no observed task has are left out."""
    shares = [0] * len(siblings)
    left_out = []
    groups: list[tuple[list[int], int]] = []
    rest = queue.ready
    if queue.by_mechanism:
        for mechanism in ("thread", "process"):
            count = min(queue.by_mechanism.get(mechanism, 0), rest)
            rest -= count
            members = [i for i, t in enumerate(siblings) if t.mechanism == mechanism]
            if members:
                groups.append((members, count))
            elif count:
                why = f"no live pool has run a {mechanism} task of it in the window"
                left_out.append(Unmodelled(queue.queue, count, why))
    groups.append((list(range(len(siblings))), rest))
    for members, count in groups:
        arrived = [siblings[i].arrived for i in members]
        weights = arrived if sum(arrived) else [1] * len(members)
        for index, part in zip(members, split(count, weights), strict=True):
            shares[index] += part
    return shares, left_out


def task_models(inputs: ForecastInputs) -> tuple[tuple[TaskModel, ...], tuple[Unmodelled, ...]]:
    """Each observed task's model, and the ready messages left out: of a queue no
    observed task uses, of a mechanism none of its observed tasks has, or the share of
    a task that never finished a run (no run times to draw from)."""
    observation = inputs.observation
    span = observation.span_ms
    by_queue: dict[str, list[Observed]] = {}
    for task in observation.tasks:
        by_queue.setdefault(task.queue, []).append(task)
    backlog = {q.queue: q for q in inputs.queues}
    models, left_out = [], []
    for queue, siblings in sorted(by_queue.items()):
        found = backlog.get(queue, QueueBacklog(queue, 0))
        recent = _arrived_in_window(found, span) / found.ready if found.ready else 0.0
        shares, missing = _shares(found, siblings)
        left_out += missing
        for task, waiting in zip(siblings, shares, strict=True):
            mean, samples, measured = _run_times(task)
            if measured == "none" or not _named(task):
                why = "has not finished a run: no run times" if _named(task) else "cannot run"
                if waiting:
                    left_out.append(Unmodelled(queue, waiting, f"task {task.task!r} {why}"))
                continue
            rate = (task.arrived + waiting * recent) * 1000 / span
            models.append(
                TaskModel(task.task, queue, task.mechanism, waiting, rate, mean, samples, measured)
            )
    left_out += [
        Unmodelled(q.queue, q.ready, "no live pool has run its tasks in the window")
        for q in inputs.queues
        if q.ready and q.queue not in by_queue
    ]
    return tuple(models), tuple(left_out)


def split(total: int, weights: Sequence[int]) -> list[int]:
    """``total`` split in whole parts proportional to ``weights`` (largest remainders;
    ties to the first); the parts add up to ``total``."""
    whole = sum(weights)
    if whole <= 0:
        raise ValueError(f"cannot split by weights that add up to {whole}")
    exact = [total * w / whole for w in weights]
    taken = [math.floor(e) for e in exact]
    order = sorted(range(len(weights)), key=lambda i: (taken[i] - exact[i], i))
    for index in order[: total - sum(taken)]:
        taken[index] += 1
    return taken


def fluid_drain_ms(
    models: Sequence[TaskModel], pools: int, slots: Mapping[str, int]
) -> int | None:
    """When the backlog drains if work flowed like a fluid: per mechanism, work waiting
    / (slots - work arriving); the slowest mechanism decides. None: it never drains
    (work arrives at least as fast as the slots can do it)."""
    worst = 0.0
    for mechanism in ("thread", "process"):
        mine = [m for m in models if m.mechanism == mechanism]
        waiting = sum(m.backlog * m.mean_run_ms for m in mine)
        arriving = sum(m.rate_per_s * m.mean_run_ms for m in mine) / 1000
        capacity = pools * slots.get(mechanism, 0)
        if arriving > 0 and arriving >= capacity:
            return None
        if waiting > 0:
            if capacity <= 0:
                return None
            worst = max(worst, waiting / (capacity - arriving))
    return math.ceil(worst)


def pool_counts(current: int) -> tuple[tuple[int, int], ...]:
    """``(change, pools)`` of the scenarios: today's count and -2..+2 pools, at least one
    (none without a live pool: there is no capacity to start from, nor observations)."""
    if current < 1:
        return ()
    changes = (-2, -1, 0, 1, 2)
    return tuple((change, current + change) for change in changes if current + change >= 1)
