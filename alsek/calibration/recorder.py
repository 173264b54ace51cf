"""What the real run did, from the worker pool's observer events.

``Recorder`` is a pool observer (``alsek.effects.events.Observer``): the
pool tells it about every claim round trip (``ClaimAnswered``: sent,
answered, what it claimed and which acks rode on it) and every outcome
(``Finished``: when the runner handed it over and when it was recorded).
The producer tells it when each message was submitted. Times are
``time.monotonic`` seconds: the events' ``clock_ns`` is the same clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from alsek.effects.events import ClaimAnswered, Claimed, Finished, Observer
from alsek.pure.decisions import Ack, DeadLetter, Reschedule

NS = 1e-9


@dataclass(frozen=True)
class ClaimRecord:
    """One claim round trip: when it was sent and answered, what it took and acked.

    ``blocking`` claims waited for work first: their ``start`` is when the
    wait began, so only ``end`` says when the claim ran (on Redis it is
    queued behind the blocking pop, one round trip before ``end``).
    """

    by: str
    start: float
    end: float
    limit: int
    tokens: tuple[str, ...]  # leases of the messages it claimed
    acked: tuple[str, ...]  # leases of the finished tasks whose acks it carried
    blocking: bool

    def issued(self, rtt_s: float) -> float:
        """When the claim took its messages (for a blocking one: ``end`` - one round trip)."""
        return max(self.start, self.end - rtt_s) if self.blocking else self.start


@dataclass(frozen=True)
class OutcomeRecord:
    """An attempt's outcome as the pool handled it.

    ``decided``: the runner handed the outcome to the pool; ``done``: the
    pool recorded it (``Finished``), except for an ack kept for the
    dispatcher's next claim, which is recorded when that claim answers.
    """

    key: str
    attempt: int
    token: str
    decided: float
    done: float
    final: bool
    retried: bool


class Recorder(Observer):
    """Thread-safe stamps of submissions (the producer's) and of the pool's events."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.submitted: dict[str, float] = {}
        self.scheduled: dict[str, float] = {}
        self.uuid_key: dict[str, str] = {}
        self.claims: list[ClaimRecord] = []
        self.claim_of: dict[str, ClaimRecord] = {}  # lease token -> the claim that took it
        self.claimed_uuid: dict[str, str] = {}  # lease token -> message uuid
        self.outcomes: list[OutcomeRecord] = []
        self.finals: dict[str, float] = {}  # provisional: when Finished came

    # -- the producer's side -------------------------------------------------------

    def submit(self, key: str, uuid: str, at: float, scheduled: float | None = None) -> None:
        """``key`` was submitted as message ``uuid`` at ``at`` (the call's start)."""
        with self.cond:
            self.submitted[key] = at
            self.uuid_key[uuid] = key
            if scheduled is not None:
                self.scheduled[key] = scheduled

    # -- the pool's events ---------------------------------------------------------

    def on_claim_answered(self, event: ClaimAnswered) -> None:
        record = ClaimRecord(
            event.by,
            event.sent_ns * NS,
            event.clock_ns * NS,
            event.asked,
            event.tokens,
            event.acked,
            event.waited,
        )
        with self.cond:
            self.claims.append(record)
            for token in event.tokens:
                self.claim_of[token] = record

    def on_claimed(self, event: Claimed) -> None:
        with self.cond:
            self.claimed_uuid[event.token] = event.name.rsplit(":", 1)[-1]

    def on_outcome(self, event: Finished) -> None:
        message = event.message
        if not message.args:
            return
        kinds = {type(effect) for effect in event.effects}
        retried = any(isinstance(e, Reschedule) and e.kind == "retry" for e in event.effects)
        final = bool(kinds & {Ack, DeadLetter})
        record = OutcomeRecord(
            str(message.args[0]),
            message.retries,
            event.token,
            event.ended_ns * NS,
            event.clock_ns * NS,
            final,
            retried,
        )
        with self.cond:
            self.outcomes.append(record)
            if final:
                self.finals[record.key] = record.done
                self.cond.notify_all()

    # -- reading it back -----------------------------------------------------------

    def wait_finals(self, keys: Sequence[str], timeout: float) -> bool:
        """Wait until every key in ``keys`` has a final outcome (False on timeout)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while any(key not in self.finals for key in keys):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
        return True

    def ack_times(self) -> dict[str, float]:
        """Lease token -> when the claim its ack rode along with answered."""
        acked: dict[str, float] = {}
        with self.cond:
            for claim in self.claims:
                for token in claim.acked:
                    acked.setdefault(token, claim.end)
        return acked

    def recorded_times(self) -> dict[tuple[str, int], float]:
        """(key, attempt) -> when its outcome was recorded in the backend (as the pool saw it).

        A success whose only effect is an ack rides along with a claim (the
        dispatcher's next one for a thread, the runner's own next one for a
        process): recorded when that claim answered. An ack sent on its own,
        a retry or a dead letter: when ``Finished`` came, right after its
        round trip answered.
        """
        acked = self.ack_times()
        with self.cond:
            outcomes = list(self.outcomes)
        return {(r.key, r.attempt): max(acked.get(r.token, r.done), r.decided) for r in outcomes}

    def final_times(self) -> dict[str, float]:
        """key -> when its final outcome (a success, or a dead letter) was recorded."""
        recorded = self.recorded_times()
        with self.cond:
            outcomes = list(self.outcomes)
        return {r.key: recorded[(r.key, r.attempt)] for r in outcomes if r.final}

    def plain_claims(self, since: float) -> list[ClaimRecord]:
        """Claims asking for messages, sent without waiting first, from ``since`` on."""
        with self.cond:
            return [c for c in self.claims if not c.blocking and c.limit > 0 and c.start >= since]

    # -- across processes ----------------------------------------------------------

    def dump(self) -> dict[str, Any]:
        """What the pool's events recorded, as plain data (to merge in another process:
        ``time.monotonic`` is one clock for every process of a host)."""
        with self.cond:
            return {
                "claims": [asdict(claim) for claim in self.claims],
                "claimed_uuid": dict(self.claimed_uuid),
                "outcomes": [asdict(outcome) for outcome in self.outcomes],
            }

    def absorb(self, data: Mapping[str, Any]) -> None:
        """Add the events another process's recorder ``dump``-ed (another pool's)."""
        with self.cond:
            for item in data["claims"]:
                fields = {**item, "tokens": tuple(item["tokens"]), "acked": tuple(item["acked"])}
                claim = ClaimRecord(**fields)
                self.claims.append(claim)
                for token in claim.tokens:
                    self.claim_of[token] = claim
            self.claimed_uuid.update(data["claimed_uuid"])
            for item in data["outcomes"]:
                outcome = OutcomeRecord(**item)
                self.outcomes.append(outcome)
                if outcome.final:
                    self.finals[outcome.key] = outcome.done
            self.cond.notify_all()
