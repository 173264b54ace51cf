"""Simulated message ids keep submission order, as Alsek's time-ordered ids do.

Ties in ``priority_key`` (same priority, ready and creation ms) go to the smaller
id. Alsek's ids sort in the order they were made, so a burst runs first in,
first out; ids of the form ``name-serial`` ran ``s-10`` before ``s-9`` and every
``a-*`` before any ``b-*``.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from alsek.sim import Arrival, Fixed, Overheads, PoolSpec, TaskKind, Times, Workload, simulate
from alsek.sim.runtime import SERIAL_DIGITS, message_id

IDEAL = Overheads(claim_rtt_ms=0, wake_latency_ms=0, dispatch_ms={"thread": 0, "process": 0})
names = st.text(st.characters(exclude_characters=":*?[]|"), min_size=1, max_size=12)


@given(st.integers(1, 10**SERIAL_DIGITS - 1), st.integers(1, 10**SERIAL_DIGITS - 1), names, names)
def test_ids_sort_by_serial_whatever_the_task(a: int, b: int, first: str, second: str) -> None:
    if a != b:
        assert (message_id(a, first) < message_id(b, second)) == (a < b)
    assert message_id(a, first).endswith(f"-{first}")


def test_a_burst_of_two_kinds_runs_in_submission_order() -> None:
    # Twelve messages submitted in the same ms, alternating "b" and "a", on one slot.
    kinds = [TaskKind(name=name, duration=Fixed(10)) for name in ("b", "a")]
    workload = Workload(
        tasks=kinds,
        arrivals=[Arrival(task=k.name, pattern=Times(times_ms=[0] * 6)) for k in kinds],
        pool=PoolSpec(max_threads=0, max_processes=1),
        overheads=IDEAL,
        consumer_backoff=None,
    )
    report = simulate(workload, seed=1)
    trace = report.trace or ()
    submitted = [uuid for _, event, _, uuid, _ in trace if event == "submit"]
    claimed = [uuid for _, event, _, uuid, _ in trace if event == "claim"]
    assert len(claimed) == 12
    assert claimed == submitted
    # Each waits for those submitted before it: 0, 10, ..., 110 ms.
    starts = sorted(detail[1] for _, event, _, _, detail in trace if event == "end")
    assert starts == list(range(0, 120, 10))
