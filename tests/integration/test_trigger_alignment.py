"""Tick times that every scheduler process computes alike, driven without waiting:
interval grids, user-given starts, jitter, cron across DST, and date triggers."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterator

import pytest
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from alsek.core import Broker, task
from alsek.core.task import TriggerTask
from alsek.effects.backends.base import Backend
from alsek.effects.scheduler import tick_uuid
from alsek.effects.triggers import to_ms
from alsek.exceptions import ValidationError

UTC = dt.timezone.utc
NOW = dt.datetime(2024, 11, 2, 23, 59, 30, 123456, tzinfo=UTC)


def noop() -> None:
    return None


@pytest.fixture()
def schedulers(
    any_backend: Backend,
) -> Iterator[Callable[[Callable[[], BaseTrigger]], TriggerTask]]:
    """Makes TriggerTasks named alike, as separate scheduler processes would."""
    made: list[TriggerTask] = []
    broker = Broker(any_backend)

    def make(trigger: Callable[[], BaseTrigger]) -> TriggerTask:
        made.append(task(broker, name="ta_tick", queue="ta", trigger=trigger())(noop))
        return made[-1]

    yield make
    for one in made:
        one.shutdown()


def fires(one: TriggerTask, count: int, now: dt.datetime = NOW) -> list[dt.datetime]:
    """The next ``count`` fire times, as the scheduler would ask for them."""
    found: list[dt.datetime] = []
    previous = None
    for _ in range(count):
        upcoming = one.schedule.trigger.get_next_fire_time(previous, now)
        assert upcoming is not None
        found.append(upcoming)
        previous = now = upcoming
    return found


def stored_ticks(backend: Backend) -> list[int]:
    return sorted(backend.get(name)["created_at"] for name in backend.scan("queues:ta:*"))


def test_jittered_schedulers_submit_one_message_per_tick(
    schedulers: Callable[..., TriggerTask], any_backend: Backend
) -> None:
    three = [schedulers(lambda: IntervalTrigger(seconds=10, jitter=4)) for _ in range(3)]
    root = three[0].generate(submit=False)
    times = [fires(one, 5) for one in three]
    assert len({tuple(t) for t in times}) > 1  # each process jitters differently
    for column in zip(*times, strict=True):
        for one, fire_time in zip(three, column, strict=True):
            one._fire(root, fire_time=fire_time)
    ticks = stored_ticks(any_backend)
    first = -(-to_ms(NOW) // 10_000) * 10_000  # the next 10 s mark after NOW (epoch grid)
    assert ticks == [first + k * 10_000 for k in range(5)]
    for fire_times in times:  # late by at most the jitter, never past the next tick
        assert all(0 <= to_ms(f) - t <= 4_000 for f, t in zip(fire_times, ticks, strict=True))
    names = {any_backend.get(n)["uuid"] for n in any_backend.scan("queues:ta:*")}
    assert names == {tick_uuid("ta_tick", t) for t in ticks}


@pytest.mark.parametrize(
    "trigger",
    [
        lambda: IntervalTrigger(seconds=1, jitter=1),
        lambda: IntervalTrigger(minutes=1, jitter=90),
        lambda: CronTrigger(second="*/2", jitter=2, timezone="UTC"),
    ],
    ids=["interval-equal", "interval-longer", "cron"],
)
def test_a_jitter_not_shorter_than_the_period_is_refused(
    any_backend: Backend, trigger: Callable[[], BaseTrigger]
) -> None:
    with pytest.raises(ValidationError, match=r"jitter .* must be shorter than the time between"):
        task(Broker(any_backend), name="ta_refused", trigger=trigger())(noop)


def test_a_default_start_ticks_on_the_epoch_grid(schedulers: Callable[..., TriggerTask]) -> None:
    early = schedulers(lambda: IntervalTrigger(minutes=7))
    late = schedulers(lambda: IntervalTrigger(minutes=7))  # "started later"
    got = [to_ms(f) for f in fires(early, 4)]
    assert all(t % 420_000 == 0 for t in got) and got[0] - to_ms(NOW) < 420_000
    assert [to_ms(f) for f in fires(late, 3, NOW + dt.timedelta(minutes=7))] == got[1:]


def test_a_given_start_is_kept_and_the_end_respected(
    schedulers: Callable[..., TriggerTask],
) -> None:
    start = dt.datetime(2024, 11, 3, 0, 0, 3, tzinfo=UTC)
    end = start + dt.timedelta(minutes=21)
    one = schedulers(lambda: IntervalTrigger(minutes=7, start_date=start, end_date=end))
    got = [to_ms(f) for f in fires(one, 4)]
    assert got == [to_ms(start) + k * 420_000 for k in range(4)]
    assert one.schedule.trigger.get_next_fire_time(end, end) is None
    after = start + dt.timedelta(minutes=8)  # a scheduler started after the start
    assert to_ms(fires(one, 1, after)[0]) == to_ms(start) + 2 * 420_000


def test_interval_ticks_are_elapsed_time_across_dst(
    schedulers: Callable[..., TriggerTask],
) -> None:
    one = schedulers(lambda: IntervalTrigger(hours=1, timezone="America/New_York"))
    other = schedulers(lambda: IntervalTrigger(hours=1, timezone="America/New_York"))
    got = [to_ms(f) for f in fires(one, 9)]  # through 2024-11-03 01:00-02:00 (twice)
    assert got == [to_ms(f) for f in fires(other, 9)]
    assert all(b - a == 3_600_000 for a, b in itertools.pairwise(got))
    assert all(t % 3_600_000 == 0 for t in got)


def test_cron_ticks_across_dst_agree_and_stay_distinct(
    schedulers: Callable[..., TriggerTask], any_backend: Backend
) -> None:
    make = lambda: CronTrigger(minute=30, timezone="America/New_York")  # noqa: E731
    one, other = schedulers(make), schedulers(make)
    got, again = fires(one, 8), fires(other, 8)
    assert [to_ms(f) for f in got] == [to_ms(f) for f in again]
    # 01:30 happens twice on 2024-11-03 (EDT, then EST): two ticks, an hour apart.
    local = [f.astimezone(got[0].tzinfo).strftime("%H:%M") for f in got]
    assert local.count("01:30") == 2
    root = one.generate(submit=False)
    for fire_time in got + again:
        (one if fire_time in got else other)._fire(root, fire_time=fire_time)
    assert stored_ticks(any_backend) == sorted(to_ms(f) for f in got)


def test_jittered_cron_fires_map_back_to_their_tick(
    schedulers: Callable[..., TriggerTask], any_backend: Backend
) -> None:
    make = lambda: CronTrigger(minute="*/5", jitter=120, timezone="Europe/Paris")  # noqa: E731
    three = [schedulers(make) for _ in range(3)]
    root = three[0].generate(submit=False)
    for one in three:
        for fire_time in fires(one, 4):
            one._fire(root, fire_time=fire_time)
    ticks = stored_ticks(any_backend)
    assert len(ticks) == 4 and all(t % 300_000 == 0 for t in ticks)


def test_a_date_trigger_with_a_run_date_fires_once_in_all(
    schedulers: Callable[..., TriggerTask], any_backend: Backend
) -> None:
    when = dt.datetime(2024, 11, 3, 12, 0, tzinfo=UTC)
    three = [schedulers(lambda: DateTrigger(run_date=when)) for _ in range(3)]
    root = three[0].generate(submit=False)
    for one in three:
        (fire_time,) = fires(one, 1)
        one._fire(root, fire_time=fire_time)
    assert stored_ticks(any_backend) == [to_ms(when)]
