"""When a trigger ticks, computed the same way by every scheduler.

Several processes may run the same triggered task; each tick must become
one message. A tick's message id is derived from (task name, tick time)
and submitted with ``nx``, so it is enough that every scheduler computes
the same tick times. Interval ticks therefore lie on a grid
``anchor + k * interval`` (all times UTC milliseconds): the anchor is the
trigger's own start when the user gave one, else the Unix epoch, which
every process shares (an interval of one hour ticks on the hour, UTC).

Jitter delays *when* a scheduler submits a tick, by a different amount in
each process, but not *which* tick it is: a jittered fire time belongs to
the latest tick at or before it, so the tick's identity stays shared as
long as the jitter is shorter than the interval (``check_jitter``).
"""

from __future__ import annotations

from alsek.exceptions import ValidationError


def _check_interval(interval: int) -> None:
    if interval < 1:
        raise ValidationError(f"a trigger interval must be at least 1 ms, got {interval}")


def next_tick(anchor: int, interval: int, at_or_after: int, first: int | None = None) -> int:
    """The earliest grid time ``anchor + k * interval`` that is ``>= at_or_after``.

    With ``first`` (a user-given start), no tick comes before it: the grid
    then starts at ``first`` (``k >= 0``); without it, ``k`` may be any
    integer (the grid extends both ways from the anchor).
    """
    _check_interval(interval)
    target = at_or_after if first is None else max(at_or_after, first)
    steps = -((anchor - target) // interval)  # ceil((target - anchor) / interval)
    return anchor + steps * interval


def tick_of(anchor: int, interval: int, fire: int) -> int:
    """The tick a (possibly jittered) fire time belongs to: the latest grid time ``<= fire``."""
    _check_interval(interval)
    return anchor + ((fire - anchor) // interval) * interval


def following_tick(anchor: int, interval: int, previous_fire: int) -> int:
    """The tick after the one ``previous_fire`` (possibly jittered) belongs to."""
    return tick_of(anchor, interval, previous_fire) + interval


def check_jitter(jitter: int, shortest_gap: int, what: str = "trigger") -> None:
    """Refuse a jitter that could make a fire time ambiguous between two ticks."""
    if jitter < 0:
        raise ValidationError(f"{what}: jitter must be >= 0 ms, got {jitter}")
    if jitter >= shortest_gap:
        raise ValidationError(
            f"{what}: jitter ({jitter} ms) must be shorter than the time between two "
            f"ticks ({shortest_gap} ms), or schedulers in different processes could not "
            "agree which tick a fire belongs to"
        )


def is_process_local_start(start: int, interval: int, created: int, tolerance: int) -> bool:
    """Whether an interval trigger's start is "``interval`` after it was created"
    (APScheduler's default, or ``now() + interval`` by hand): such a start
    differs in every process, so the shared epoch anchor replaces it."""
    return abs(start - interval - created) <= tolerance
