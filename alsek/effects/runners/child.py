"""A task process: claims its own messages, runs them, records their outcomes.

A worker pool starts long-lived task processes (``alsek.effects.pool.children``).
Each opens its own connection to the backend (the pool hands it the broker,
which pickles as how to reopen it) and loops: claim one process-mechanism
message (the ack of its last success riding on the same round trip), run
it, decide what follows (``alsek.pure.decisions``) and record it. Nothing
crosses the parent per task but short reports on a pipe, read
asynchronously by the parent, which supervises:

* ``answered`` — a claim round trip (for observers' timings);
* ``claimed`` — the parent renews the lease and knows what to redeliver at
  once if this process dies;
* ``abandoned`` — the lease could not be vouched for before starting (the
  claim's reply came late and the lease ran out): the message is not run here;
* ``started`` — the parent enforces the timeout (it kills the process);
* ``outcome`` — the task ended; the parent could finish recording it if
  this process died now (an ack, or the decided effects: all fenced);
* ``recorded`` / ``released`` — the slot is free again.

The parent sends ``stop`` (finish the current task, send the pending ack,
exit) and ``retire`` (exit if idle). An idle process blocks on the
backend's wake-up signal, so it claims work the moment it is submitted.
"""

from __future__ import annotations

import importlib
import logging
import signal
import time
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from alsek.effects import ackbatch as ack_batches
from alsek.effects.broker import Broker
from alsek.effects.clock import monotonic_ms, monotonic_ns, new_token
from alsek.effects.consumer import Consumer
from alsek.effects.errors import error_info
from alsek.effects.execution import Executor
from alsek.effects.message import Message
from alsek.effects.registry import lookup
from alsek.effects.result import ResultStore
from alsek.exceptions import BackendUnavailableError, TaskNotFoundError
from alsek.pure import pool as policy
from alsek.pure.backoff import Backoff
from alsek.pure.decisions import Ack, Effect
from alsek.pure.outcome import Failed, Outcome
from alsek.pure.queue_model import Claim

log = logging.getLogger("alsek.worker")


@attrs.frozen
class ChildSetup:
    """What a task process needs, sent to it once when it starts (pickled)."""

    broker: Broker
    result_stores: Mapping[str, ResultStore | None]
    modules: Sequence[str]
    queues: Sequence[str]
    lease_ms: int
    backoff: Backoff | None
    wake_key: str


def child_main(conn: Any, setup: ChildSetup) -> None:
    """Entry point of a task process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the pool decides when task processes stop
    for module in setup.modules:
        importlib.import_module(module)
    for name, store in setup.result_stores.items():
        try:
            task = lookup(name)
        except TaskNotFoundError:
            continue  # a task of ``__main__``: known to the pool only
        task.broker, task.result_store = setup.broker, store
    conn.send(("ready",))
    ChildLoop(conn, setup).run()


class ChildLoop:
    """The claim-run-record loop of one task process."""

    def __init__(self, conn: Any, setup: ChildSetup) -> None:
        self.conn = conn
        self.setup = setup
        self.consumer = Consumer(
            setup.broker, subset=setup.queues, backoff=setup.backoff, lease_ms=setup.lease_ms
        )
        self.executor = Executor(setup.broker, setup.lease_ms)
        self.pending: Message | None = None  # an ack riding on the next claim
        self.exhausted = False
        self.next_wake: int | None = None
        self.stopping = False
        self.retiring = False

    def report(self, *fields: Any) -> None:
        """Tell the parent (it reads asynchronously)."""
        self.conn.send(fields)

    def run(self) -> None:
        pause = 0.05
        while True:
            self._read_commands()
            if self.stopping or (self.retiring and self.pending is None):
                break
            try:
                batch = self._claim()
            except Exception as error:  # outages, server refusals: never die, back off
                if isinstance(error, BackendUnavailableError):
                    log.warning("backend unavailable (%s); retrying in %.2fs", error, pause)
                else:
                    log.exception("claiming failed; retrying in %.2fs", pause)
                self._nap(pause)
                pause = min(pause * 2, 5.0)
                continue
            pause = 0.05
            self.exhausted = not batch.claims
            self.next_wake = batch.next_wake
            for claim in batch.claims:
                self.pending = self._run(claim)
        self._flush()

    def _read_commands(self) -> None:
        while self.conn.poll(0):
            try:
                command = self.conn.recv()
            except (EOFError, OSError):
                self.stopping = True
                return
            if command == ("stop",):
                self.stopping = True
            elif command == ("retire",):
                self.retiring = True

    def _claim(self) -> Any:
        sent_ns = monotonic_ns()
        if self.pending is None and self.exhausted:
            batch = self.consumer.wait_and_claim_raw(
                ("process",), 1, self.next_wake, self.setup.wake_key
            )
            self._answered(1, batch, [], sent_ns, True)
            return batch
        acks = [] if self.pending is None else [self.pending]
        limit = 0 if self.retiring else 1
        batch = self.consumer.claim_raw(("process",), limit, acks)
        self._answered(limit, batch, acks, sent_ns, False)
        if self.pending is not None:
            ack_batches.report(acks, batch.acked)
            self.report("recorded", self.pending.lock)
            self.pending = None
        return batch

    def _answered(
        self, asked: int, batch: Any, acks: list[Message], sent_ns: int, waited: bool
    ) -> None:
        """Tell the parent about a claim round trip (its observers time them)."""
        tokens = tuple(claim.token for claim in batch.claims)
        held = tuple(m.lock for m, ok in zip(acks, batch.acked, strict=False) if ok and m.lock)
        self.report("answered", asked, tokens, held, waited, sent_ns, monotonic_ns())

    def _flush(self) -> None:
        """Send the pending ack before exiting."""
        if self.pending is not None:
            ack_batches.flush(self.consumer, [self.pending])
            self.report("recorded", self.pending.lock)
            self.pending = None

    def _nap(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self.stopping:
            if self.conn.poll(min(0.05, max(deadline - time.monotonic(), 0))):
                self._read_commands()

    def _run(self, claim: Claim) -> Message | None:
        """Run one claimed message; returns it when its ack rides on the next claim."""
        left = claim.deadline - self.consumer.broker.clock.now()
        self.report("claimed", claim.name, claim.queue, claim.token, claim.deliveries, left)
        message = self.consumer.decode(claim)  # dead-letters poison itself
        task = None
        if message is not None:
            try:
                task = lookup(message.task_name)
            except TaskNotFoundError:
                task = None
            if self.executor.precheck(task, message) is not None:
                message = None
        if message is None or task is None:
            self.report("released", claim.token, "refused")
            return None
        lease_until = self._vouch(claim, message)
        if lease_until is None:
            self.report("abandoned", claim.token)
            return None
        self.report("started", claim.token, message, monotonic_ns())
        started = monotonic_ms()
        try:
            outcome: Outcome = task.run(message)
        except BaseException as error:  # a task's SystemExit is its failure
            outcome = Failed(error_info(error), retry_approved=False)
        duration = monotonic_ms() - started
        ended_ns = monotonic_ns()
        effects = self.executor.decide(task, message, outcome, duration)
        ack_only = len(effects) == 1 and isinstance(effects[0], Ack)
        self._report_outcome(claim.token, outcome, effects, duration, ack_only, ended_ns)
        if ack_only:
            return message
        try:
            self.executor.carry_out(task, message, effects, lease_until)
        except Exception:
            log.exception(
                "could not record the outcome of %s; its lease will expire and it will be "
                "redelivered",
                message.summary,
            )
        self.report("recorded", claim.token)
        return None

    def _vouch(self, claim: Claim, message: Message) -> int | None:
        """When the lease on ``message`` runs out (monotonic ms), if this process can
        vouch for it before starting the task; None if it cannot: the task is not run.

        A claim's reply can arrive late (a server that stalled before answering, a
        process held up): its lease may have run out meanwhile, with nobody renewing
        it (the pool renews what it was told of), and another consumer may have the
        message by now. A lease with more than half left is safe; a shorter one is
        renewed first (``alsek.pure.pool.start_check``).
        """
        broker = self.consumer.broker
        now, at = broker.clock.now(), monotonic_ms()
        lease_ms = self.setup.lease_ms
        if policy.start_check(claim.deadline, now, lease_ms) is policy.StartCheck.START:
            return at + claim.deadline - now
        try:
            held = broker.renew([message], lease_ms)[0]
        except Exception as error:  # an outage: it comes back when the lease runs out
            log.warning(
                "not running %s: its lease ran low before it started and could not be "
                "renewed (%s); it is redelivered when the lease runs out",
                message.summary,
                error,
            )
            return None
        if not held:
            log.warning(
                "not running %s: its lease ran out before it started, and another "
                "consumer took the message over",
                message.summary,
            )
            return None
        return at + lease_ms

    def _report_outcome(
        self,
        token: str,
        outcome: Outcome,
        effects: tuple[Effect, ...],
        duration: int,
        ack_only: bool,
        ended_ns: int,
    ) -> None:
        try:
            self.report("outcome", token, outcome, effects, duration, ack_only, ended_ns)
        except Exception as error:  # the result cannot be pickled for the report
            log.warning("could not report the outcome of %s to the pool: %s", token, error)
            self.report("outcome", token, None, (), duration, ack_only, ended_ns)


def new_wake_key() -> str:
    """A wake-up key for one task process."""
    return f"child-{new_token()}"
