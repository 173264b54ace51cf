"""APScheduler triggers made to tick the same in every scheduler process.

``SharedSchedule(trigger, now_ms).trigger`` is what the scheduler runs:

- an ``IntervalTrigger`` becomes an ``AlignedIntervalTrigger`` whose ticks lie
  on a grid anchored at the user's ``start_date``, or at the Unix epoch when
  the start is APScheduler's default (``now + interval``, different in every
  process); see ``alsek.pure.ticks``;
- cron and date triggers already compute the same instants everywhere (for
  the same time zone: give them one explicitly when hosts differ) and run
  as given.

``SharedSchedule.tick_ms(fire_time)`` maps a fire time, jittered or not,
back to its tick: the id of the message a fire submits derives from it.
"""

from __future__ import annotations

import copy
import itertools
import random
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from alsek.exceptions import ValidationError
from alsek.pure import ticks

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MS = timedelta(milliseconds=1)
#: A start this close to "created + interval" is taken as APScheduler's default.
DEFAULT_START_TOLERANCE_MS = 10_000
#: How many upcoming cron fires are checked against the jitter.
CRON_GAPS_CHECKED = 100


def to_ms(moment: datetime) -> int:
    """An aware datetime as UTC milliseconds, exactly (floored)."""
    return (moment - EPOCH) // MS


def from_ms(ms: int, zone: tzinfo) -> datetime:
    """UTC milliseconds as an aware datetime in ``zone``, exactly."""
    return (EPOCH + ms * MS).astimezone(zone)


def _jitter_ms(trigger: Any) -> int:
    jitter = getattr(trigger, "jitter", None)
    return 0 if not jitter else round(float(jitter) * 1000)


class AlignedIntervalTrigger(BaseTrigger):  # type: ignore[misc]
    """An ``IntervalTrigger`` whose ticks every scheduler computes identically."""

    def __init__(self, source: IntervalTrigger, now_ms: int) -> None:
        self.source = source
        self.interval = source.interval // MS
        if self.interval < 1 or source.interval % MS:
            raise ValidationError(
                f"an interval trigger needs a whole number of milliseconds, got {source.interval}"
            )
        start = to_ms(source.start_date)
        local = ticks.is_process_local_start(
            start, self.interval, now_ms, DEFAULT_START_TOLERANCE_MS
        )
        self.anchor = 0 if local else start
        self.first = None if local else start
        self.end = None if source.end_date is None else to_ms(source.end_date)
        self.jitter = _jitter_ms(source)
        self.timezone = source.timezone
        ticks.check_jitter(self.jitter, self.interval, f"interval trigger {source}")

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        if previous_fire_time is None:
            tick = ticks.next_tick(self.anchor, self.interval, to_ms(now), self.first)
        else:
            tick = ticks.following_tick(self.anchor, self.interval, to_ms(previous_fire_time))
        if self.end is not None and tick > self.end:
            return None
        delay = int(random.uniform(0, self.jitter)) if self.jitter else 0
        return from_ms(tick + delay, self.timezone)

    def tick_ms(self, fire_ms: int) -> int:
        """The tick a fire at ``fire_ms`` belongs to."""
        return ticks.tick_of(self.anchor, self.interval, fire_ms)

    def __str__(self) -> str:
        return f"aligned {self.source} (anchor {self.anchor} ms)"


class CronTicks:
    """Recovers the un-jittered cron time of a jittered fire."""

    def __init__(self, source: CronTrigger, now_ms: int) -> None:
        self.jitter = _jitter_ms(source)
        self.plain = copy.copy(source)
        self.plain.jitter = None
        fires: list[int] = []
        now = from_ms(now_ms, source.timezone)
        previous = None
        for _ in range(CRON_GAPS_CHECKED):
            upcoming = self.plain.get_next_fire_time(previous, now)
            if upcoming is None:
                break
            fires.append(to_ms(upcoming))
            previous = now = upcoming
        gaps = [b - a for a, b in itertools.pairwise(fires)]
        if gaps:
            ticks.check_jitter(self.jitter, min(gaps), f"cron trigger {source}")

    def tick_ms(self, fire_ms: int) -> int:
        """The cron time a fire at ``fire_ms`` (at most ``jitter`` late) belongs to."""
        base = self.plain.get_next_fire_time(
            None, from_ms(fire_ms - self.jitter, self.plain.timezone)
        )
        return fire_ms if base is None else to_ms(base)


class SharedSchedule:
    """What the scheduler runs for a user's trigger, and how its fires map to ticks."""

    def __init__(self, trigger: BaseTrigger, now_ms: int) -> None:
        self.source = trigger
        self.trigger: BaseTrigger = trigger
        self._cron: CronTicks | None = None
        if isinstance(trigger, IntervalTrigger):
            self.trigger = AlignedIntervalTrigger(trigger, now_ms)
        elif isinstance(trigger, CronTrigger) and _jitter_ms(trigger):
            self._cron = CronTicks(trigger, now_ms)

    def tick_ms(self, fire_time: datetime) -> int:
        """The tick (UTC ms) of a fire at ``fire_time``: the message id derives from it."""
        fire = to_ms(fire_time)
        if isinstance(self.trigger, AlignedIntervalTrigger):
            return self.trigger.tick_ms(fire)
        if self._cron is not None:
            return self._cron.tick_ms(fire)
        return fire
