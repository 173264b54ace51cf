"""Single-operation properties of the queue model (the machine covers sequences)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from alsek.pure import queue_model as qm
from alsek.pure.keys import get_message_name
from alsek.pure.message import SLOT_KINDS, Message
from tests.property.strategies import MAX_TIME, index_entries, light, medium, names, small_messages

nows = st.integers(0, MAX_TIME)


@medium
@given(small_messages())
def test_entry_for_reflects_the_message(message: Message) -> None:
    name = get_message_name(message)
    entry = qm.entry_for(message, name)
    assert (entry.queue, entry.name, entry.mechanism) == (message.queue, name, message.slot_kind)
    assert entry.ready_at == message.ready_at
    assert entry.sort_key == (
        message.priority,
        message.ready_at,
        message.created_at,
        message.uuid,
        name,
    )


@light
@given(index_entries, st.integers(), st.integers())
def test_enqueue_nx_refuses_a_present_name(entry: qm.IndexEntry, first: int, second: int) -> None:
    model, added = qm.enqueue(qm.QueueModel(), entry, first)
    assert added
    again, added_again = qm.enqueue(model, entry, second)
    assert not added_again and again == model
    replaced, ok = qm.enqueue(model, entry, second, nx=False)
    assert ok and replaced.slots[entry.name].payload == second


@light
@given(index_entries, nows)
def test_enqueue_does_not_change_the_input_model(entry: qm.IndexEntry, now: int) -> None:
    empty = qm.QueueModel()
    model, _ = qm.enqueue(empty, entry, "payload")
    assert empty.slots == {}
    assert qm.state_of(empty, entry.name, now) == "gone"
    assert qm.state_of(model, entry.name, now) == ("ready" if entry.ready_at <= now else "delayed")


@light
@given(index_entries, nows, st.integers(1, 10**6), names)
def test_claim_respects_ready_time_and_mechanism(
    entry: qm.IndexEntry, now: int, lease_ms: int, token: str
) -> None:
    model, _ = qm.enqueue(qm.QueueModel(), entry, "p")
    other = "thread" if entry.mechanism == "process" else "process"
    _, none = qm.claim(model, [entry.queue], [other], now, lease_ms, [token])
    assert none == ()
    after, claims = qm.claim(model, [entry.queue], [entry.mechanism], now, lease_ms, [token])
    if entry.ready_at > now:
        assert claims == () and after == model
    else:
        assert claims == (
            qm.Claim(entry.name, entry.queue, "p", token, 1, now + lease_ms, entry.mechanism),
        )
        assert qm.state_of(after, entry.name, now) == "leased"
        assert qm.next_wake(after, [entry.queue], now) == now + lease_ms


@light
@given(index_entries, nows, st.integers(1, 1000), names, names)
def test_a_lease_can_be_taken_over_only_after_it_expires(
    entry: qm.IndexEntry, now: int, lease_ms: int, first: str, second: str
) -> None:
    entry = qm.IndexEntry(entry.queue, entry.name, entry.mechanism, entry.priority, now, 0)
    model, _ = qm.enqueue(qm.QueueModel(), entry, "p")
    model, (claim,) = qm.claim(model, [entry.queue], [entry.mechanism], now, lease_ms, [first])
    _, early = qm.claim(model, [entry.queue], [entry.mechanism], now + lease_ms - 1, 5, [second])
    assert early == ()
    late_model, (late,) = qm.claim(
        model, [entry.queue], [entry.mechanism], claim.deadline, 5, [second + "'"]
    )
    assert late.deliveries == 2
    assert qm.holds(late_model, entry.name, second + "'")
    assert not qm.holds(late_model, entry.name, first)
    assert qm.ack(late_model, entry.name, first) == (late_model, False)


@light
@given(index_entries, names, st.sampled_from(["keep", "reset", "uncount"]), st.integers(1, 5))
def test_release_delivery_changes(
    entry: qm.IndexEntry, token: str, change: qm.DeliveryChange, claims: int
) -> None:
    model, _ = qm.enqueue(qm.QueueModel(), entry, "p")
    now = entry.ready_at
    for index in range(claims):
        model = qm.expire(model, None, now)
        model, _ = qm.claim(model, [entry.queue], [entry.mechanism], now, 1, [f"{token}{index}"])
        now += 1
    model = qm.expire(model, None, now)
    model, _ = qm.claim(model, [entry.queue], [entry.mechanism], now, 1, [token])
    assert model.slots[entry.name].deliveries == claims + 1
    released, ok = qm.release(model, entry.name, token, entry, deliveries=change)
    assert ok
    expected = {"keep": claims + 1, "reset": 0, "uncount": claims}[change]
    assert released.slots[entry.name].deliveries == expected
    assert released.slots[entry.name].payload == "p"
    assert qm.state_of(released, entry.name, now) == "ready"


@given(st.integers(0, 10**6), st.sampled_from(["keep", "reset", "uncount"]))
def test_the_delivery_rule_never_goes_negative_and_means_what_it_says(
    count: int, change: qm.DeliveryChange
) -> None:
    after = qm.deliveries_after(count, qm.delivery_update(change))
    assert after >= 0
    expected = {"keep": count, "reset": 0, "uncount": max(count - 1, 0)}[change]
    assert after == expected


def test_an_unknown_delivery_change_is_refused_by_name() -> None:
    import pytest

    from alsek.exceptions import ValidationError

    with pytest.raises(ValidationError, match="'forget'"):
        qm.delivery_update("forget")  # type: ignore[arg-type]


@light
@given(
    st.lists(st.sampled_from(SLOT_KINDS), unique=True, max_size=3),
    st.none() | st.dictionaries(st.sampled_from(SLOT_KINDS), st.integers(0, 4)),
    st.dictionaries(st.sampled_from(SLOT_KINDS), st.integers(0, 5)),
)
def test_a_claim_takes_only_kinds_under_their_cap(
    kinds: list[str], caps: dict[str, int] | None, taken: dict[str, int]
) -> None:
    open_ = qm.open_kinds(kinds, caps, taken)
    assert list(open_) == [k for k in kinds if k in open_]  # in the order asked
    for kind in kinds:
        under = caps is None or taken.get(kind, 0) < caps.get(kind, 0)
        assert (kind in open_) == under
