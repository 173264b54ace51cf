"""The life of one claimed job inside a worker pool, as a transition table.

Contract: everything that changes a job's state goes through ``step``, and
everything ``step`` decides is in the table below. The shell holds the
pool's lock while it steps a job and carries out what the step says, so a
slot is given back exactly once, whatever raised where.

States::

    CLAIMED     claimed under a lease, handed to a runner, not started yet
    RUNNING     the task's code is running
    RECORDING   the task ended; its outcome is being written
    DONE        the outcome is recorded (or the message was refused unrun)
    ABANDONED   let go without an outcome: an internal error, a stuck thread,
                a lost lease (also one lost before the task started: a runner
                starts only under a lease it can vouch for); the lease expires
                and the message is redelivered
    HANDED_BACK returned to the queue unrun at shutdown

Events::

    START       the runner starts the task              CLAIMED -> RUNNING
    REFUSE      dead-lettered before running            CLAIMED -> DONE
    FINISH      the task returned, raised or timed out  RUNNING -> RECORDING
                (or never started: its process could not  CLAIMED -> RECORDING
                start, recorded as a crash)
                (the watchdog may finish a stuck thread's job first: the
                thread's own late FINISH is then ignored)
    RECORDED    the outcome is written                  RECORDING -> DONE
    FOLLOW      recorded, and the runner's next job was claimed in the same
                round trip: the slot passes to that job  RECORDING -> DONE
    ABANDON     give up on the job                      any live state -> ABANDONED
    HAND_BACK   shutdown after the grace period         CLAIMED, RUNNING -> HANDED_BACK

A job that is already DONE, ABANDONED or HANDED_BACK ignores every event:
a late completion after a watchdog abandoned the job, or an internal error
reported after the outcome was recorded, changes nothing and frees nothing.
A job RECORDING ignores HAND_BACK: its outcome is on its way, and handing
it back would race the write. Any other (state, event) pair is a bug and
raises ``LifecycleError`` naming both.
"""

from __future__ import annotations

import enum

import attrs

from alsek.exceptions import AlsekError


class JobState(enum.Enum):
    """Where a job is in its life (see the module docstring)."""

    CLAIMED = "claimed"
    RUNNING = "running"
    RECORDING = "recording"
    DONE = "done"
    ABANDONED = "abandoned"
    HANDED_BACK = "handed_back"


class JobEvent(enum.Enum):
    """What can happen to a job (see the module docstring)."""

    START = "start"
    REFUSE = "refuse"
    FINISH = "finish"
    RECORDED = "recorded"
    FOLLOW = "follow"
    ABANDON = "abandon"
    HAND_BACK = "hand_back"


class LifecycleError(AlsekError, RuntimeError):
    """A job was sent an event its state does not allow (a bug in the pool)."""


TERMINAL = frozenset({JobState.DONE, JobState.ABANDONED, JobState.HANDED_BACK})
LIVE = frozenset(JobState) - TERMINAL


@attrs.frozen
class Step:
    """The result of one event: the new state and whether the job's slot frees now."""

    state: JobState
    frees_slot: bool
    changed: bool


S, E = JobState, JobEvent

#: (state, event) -> (new state, frees the slot). Terminal states are handled
#: before the table is consulted: they ignore everything.
TABLE: dict[tuple[JobState, JobEvent], tuple[JobState, bool]] = {
    (S.CLAIMED, E.START): (S.RUNNING, False),
    (S.CLAIMED, E.FINISH): (S.RECORDING, False),
    (S.CLAIMED, E.REFUSE): (S.DONE, True),
    (S.CLAIMED, E.ABANDON): (S.ABANDONED, True),
    (S.CLAIMED, E.HAND_BACK): (S.HANDED_BACK, True),
    (S.RUNNING, E.FINISH): (S.RECORDING, False),
    (S.RUNNING, E.ABANDON): (S.ABANDONED, True),
    (S.RUNNING, E.HAND_BACK): (S.HANDED_BACK, True),
    (S.RECORDING, E.FINISH): (S.RECORDING, False),
    (S.RECORDING, E.RECORDED): (S.DONE, True),
    (S.RECORDING, E.FOLLOW): (S.DONE, False),
    (S.RECORDING, E.ABANDON): (S.ABANDONED, True),
    (S.RECORDING, E.HAND_BACK): (S.RECORDING, False),
}


def step(state: JobState, event: JobEvent) -> Step:
    """Apply ``event`` to a job in ``state``."""
    if state in TERMINAL:
        return Step(state, frees_slot=False, changed=False)
    try:
        new, frees = TABLE[(state, event)]
    except KeyError:
        raise LifecycleError(
            f"a job in state {state.value!r} cannot take event {event.value!r}"
        ) from None
    return Step(new, frees_slot=frees, changed=new is not state)


def holds_slot(state: JobState) -> bool:
    """Whether a job in ``state`` still occupies a slot of its pool."""
    return state in LIVE
