"""One timeline per real attempt: the pool's events joined with the tasks' own ledger.

The pool's events give, per lease token, the claim that took the message
(sent, answered), when the runner handed the outcome over and when it was
recorded. The calibration tasks add, per (key, attempt), when their body
started and ended (``tasks.planned``, the same monotonic clock), which
splits the slot cost into hand-off, sleep overshoot and the way back.
Without a ledger line those three are NaN; the totals the simulator needs
come from the events alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from alsek.calibration.recorder import Recorder
from alsek.calibration.stats import nearest_rank

#: key -> (mechanism, ((duration_ms, fails), ...) per attempt)
Plans = Mapping[str, tuple[str, tuple[tuple[int, bool], ...]]]
Spans = dict[tuple[str, int], tuple[float, float]]


def read_ledger(path: Path) -> Spans:
    """(key, attempt) -> (start, end) of the task body, as the tasks wrote them."""
    spans: Spans = {}
    if path.exists():
        for line in path.read_text().splitlines():
            key, attempt, start, end = line.split()
            spans[(key, int(attempt))] = (float(start), float(end))
    return spans


@dataclass(frozen=True)
class Attempt:
    """One real attempt, stamped at each step (``time.monotonic`` seconds)."""

    key: str
    mechanism: str
    duration_ms: int
    claim_start: float  # when the claim took it (see ClaimRecord.issued)
    claim_end: float
    start: float  # the task body (NaN without a ledger line)
    end: float
    decided: float
    recorded: float

    @property
    def handoff_ms(self) -> float:
        """Claim answered -> task body starts (hand-off to the runner, decoding, pipe)."""
        return (self.start - self.claim_end) * 1000

    @property
    def overshoot_ms(self) -> float:
        """How much longer the body took than its planned sleep."""
        return (self.end - self.start) * 1000 - self.duration_ms

    @property
    def return_ms(self) -> float:
        """Task body ends -> the pool has the outcome."""
        return (self.decided - self.end) * 1000

    @property
    def slot_cost_ms(self) -> float:
        """What the simulator's ``dispatch_ms`` stands for: claim answered -> outcome in
        hand, beyond the duration (the round trips recording it are modelled apart)."""
        return (self.decided - self.claim_end) * 1000 - self.duration_ms

    @property
    def settle_ms(self) -> float:
        """Outcome in hand -> recorded (its round trip, or the claim its ack rode on)."""
        return (self.recorded - self.decided) * 1000

    @property
    def claim_ms(self) -> float:
        """The round trip of the claim that returned this attempt (as issued)."""
        return (self.claim_end - self.claim_start) * 1000


def plain_claim_rtt_s(recorder: Recorder, since: float = 0.0) -> float:
    """The median round trip of the claims that did not wait first (seconds)."""
    trips = sorted(c.end - c.start for c in recorder.plain_claims(since))
    return nearest_rank(trips, 50) if trips else 0.0


def attempts_of(recorder: Recorder, ledger: Spans, plans: Plans, rtt_s: float) -> list[Attempt]:
    """Join claims, outcomes and ledger lines into one ``Attempt`` per real run of ``plans``."""
    recorded = recorder.recorded_times()
    with recorder.cond:
        outcomes = list(recorder.outcomes)
        claim_of = dict(recorder.claim_of)
    found = []
    for record in outcomes:
        ident = (record.key, record.attempt)
        claim = claim_of.get(record.token)
        if claim is None or record.key not in plans:
            continue
        mechanism, steps = plans[record.key]
        duration = steps[min(record.attempt, len(steps) - 1)][0]
        start, end = ledger.get(ident, (math.nan, math.nan))
        found.append(
            Attempt(
                record.key,
                mechanism,
                duration,
                claim.issued(rtt_s),
                claim.end,
                start,
                end,
                record.decided,
                recorded[ident],
            )
        )
    return found
