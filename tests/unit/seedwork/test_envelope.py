"""NewEvent / Actor validation, causation links and upcasters (seedwork.envelope)."""
from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from seedwork.envelope import (
    ACTOR_KINDS,
    SYSTEM,
    Actor,
    Envelope,
    InvalidEvent,
    NewEvent,
    Upcasters,
)

UTC = timezone.utc


def stored(event: NewEvent, stream_id: str = "ticket-1", version: int = 1, position: int = 1 << 20) -> Envelope:
    """What the store would give back for ``event``."""
    return Envelope(
        event.event_id, event.type, event.schema_version, stream_id, version, position, event.store_id,
        event.actor, event.correlation_id, event.causation_id, event.occurred_at, event.data,
    )


# --- event type names ----------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["ticket.opened", "ticket.reply_added", "customer.profile.merged", "a.b", "ticket.sla2.breached"],
)
def test_dotted_lowercase_type_names_are_accepted(name):
    assert NewEvent(name, {}).type == name


@pytest.mark.parametrize(
    "name",
    [
        "Ticket.Opened",
        "ticket.Opened",
        "ticket",  # needs at least two segments
        "services.tickets.TicketOpened",  # a module path, not a stable name
        "TicketOpened",
        "ticket.",
        ".ticket",
        "ticket..opened",
        "ticket-opened.x",
        "ticket.opened-now",
        "1ticket.opened",
        "ticket.1opened",
        "_ticket.opened",
        "ticket opened",
        " ticket.opened",
        "ticket.opened ",
        "ticket/opened",
        "",
    ],
)
def test_other_type_names_are_refused(name):
    with pytest.raises(InvalidEvent, match="dotted lowercase"):
        NewEvent(name, {})


def test_type_name_with_trailing_newline_is_refused():
    with pytest.raises(InvalidEvent):
        NewEvent("ticket.opened\n", {})


def test_invalid_event_is_a_value_error():
    # Callers (gateway) map ValueError to 400; InvalidEvent must stay one.
    assert issubclass(InvalidEvent, ValueError)


# --- schema version, timestamps, defaults -----------------------------------------


@pytest.mark.parametrize("version", [0, -1])
def test_schema_version_below_one_is_refused(version):
    with pytest.raises(InvalidEvent, match="schema_version"):
        NewEvent("ticket.opened", {}, schema_version=version)


@pytest.mark.parametrize("version", [1, 2, 17])
def test_schema_version_one_and_up_is_accepted(version):
    assert NewEvent("ticket.opened", {}, schema_version=version).schema_version == version


def test_naive_occurred_at_is_refused():
    with pytest.raises(InvalidEvent, match="timezone-aware"):
        NewEvent("ticket.opened", {}, occurred_at=datetime(2024, 5, 1, 12, 0))


def test_aware_occurred_at_in_any_zone_is_kept_as_given():
    moment = datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    assert NewEvent("ticket.opened", {}, occurred_at=moment).occurred_at == moment


def test_defaults():
    before = datetime.now(UTC)
    first = NewEvent("ticket.opened", {"subject": "hi"})
    second = NewEvent("ticket.opened", {"subject": "hi"})
    after = datetime.now(UTC)

    assert first.actor == SYSTEM == Actor("system")
    assert first.schema_version == 1
    assert first.store_id is None
    assert first.correlation_id is None and first.causation_id is None
    assert isinstance(first.event_id, uuid.UUID)
    assert first.event_id != second.event_id  # a fresh id per event
    assert first.occurred_at.tzinfo is not None
    assert before <= first.occurred_at <= after


def test_new_event_is_immutable():
    event = NewEvent("ticket.opened", {})
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.type = "ticket.closed"  # type: ignore[misc]


# --- actors ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["customer", "agent", "system", "platform"])
def test_known_actor_kinds(kind):
    assert kind in ACTOR_KINDS
    assert Actor(kind, "u-1").kind == kind


@pytest.mark.parametrize("kind", ["admin", "Customer", "", "robot", None])
def test_unknown_actor_kinds_are_refused(kind):
    with pytest.raises(InvalidEvent, match="actor kind"):
        Actor(kind)


def test_actor_id_is_optional_and_part_of_equality():
    assert Actor("agent").id is None
    assert Actor("agent", "a-1") == Actor("agent", "a-1")
    assert Actor("agent", "a-1") != Actor("agent", "a-2")


# --- causation / correlation --------------------------------------------------------


def test_caused_by_a_root_event_correlates_to_the_root_event_id():
    root = stored(NewEvent("ticket.opened", {}))
    assert root.correlation_id is None

    follow = NewEvent("notification.sent", {"to": "x"}).caused_by(root)

    assert follow.causation_id == root.event_id
    assert follow.correlation_id == root.event_id


def test_caused_by_inherits_the_cause_correlation_id():
    conversation = uuid.uuid4()
    cause = stored(NewEvent("ticket.opened", {}, correlation_id=conversation))

    follow = NewEvent("notification.sent", {}).caused_by(cause)

    assert follow.correlation_id == conversation
    assert follow.causation_id == cause.event_id
    assert follow.causation_id != follow.correlation_id


def test_caused_by_chains_keep_the_first_correlation():
    root = stored(NewEvent("ticket.opened", {}))
    second = stored(NewEvent("ticket.assigned", {}).caused_by(root), version=2)
    third = NewEvent("notification.sent", {}).caused_by(second)

    assert third.correlation_id == root.event_id
    assert third.causation_id == second.event_id


def test_caused_by_returns_a_copy_and_keeps_everything_else():
    cause = stored(NewEvent("ticket.opened", {}))
    original = NewEvent(
        "notification.sent", {"to": "x"}, actor=Actor("agent", "a-9"), store_id="store-1", schema_version=2,
    )

    linked = original.caused_by(cause)

    assert original.causation_id is None and original.correlation_id is None  # untouched
    assert linked is not original
    for name in ("type", "data", "actor", "store_id", "schema_version", "event_id", "occurred_at"):
        assert getattr(linked, name) == getattr(original, name), name


# --- upcasters -------------------------------------------------------------------------


def _v1_to_v2(data: dict) -> dict:
    data = dict(data)
    data["title"] = data.pop("subject")
    return data


def _v2_to_v3(data: dict) -> dict:
    # Only correct if it runs after v1->v2 (it needs "title").
    return {**data, "title_length": len(data["title"])}


@pytest.fixture
def ticket_upcasters() -> Upcasters:
    upcasters = Upcasters()
    upcasters.register("ticket.opened", 1, _v1_to_v2)
    upcasters.register("ticket.opened", 2, _v2_to_v3)
    return upcasters


def test_chain_lifts_v1_to_the_latest_version(ticket_upcasters):
    version, data = ticket_upcasters.upcast("ticket.opened", 1, {"subject": "broken zip"})
    assert version == 3
    assert data == {"title": "broken zip", "title_length": 10}


def test_chain_starts_at_the_stored_version(ticket_upcasters):
    version, data = ticket_upcasters.upcast("ticket.opened", 2, {"title": "abc"})
    assert (version, data) == (3, {"title": "abc", "title_length": 3})


def test_latest_payload_is_returned_untouched(ticket_upcasters):
    payload = {"title": "abc", "title_length": 3}
    version, data = ticket_upcasters.upcast("ticket.opened", 3, payload)
    assert version == 3 and data is payload


def test_payload_from_a_newer_writer_is_not_downgraded(ticket_upcasters):
    payload = {"title": "abc", "extra": True}
    assert ticket_upcasters.upcast("ticket.opened", 4, payload) == (4, payload)


def test_latest_version(ticket_upcasters):
    assert ticket_upcasters.latest_version("ticket.opened") == 3
    assert ticket_upcasters.latest_version("ticket.closed") == 1  # never upcast: v1 is the latest


def test_registration_order_does_not_matter():
    upcasters = Upcasters()
    upcasters.register("ticket.opened", 2, _v2_to_v3)
    upcasters.register("ticket.opened", 1, _v1_to_v2)
    assert upcasters.latest_version("ticket.opened") == 3
    assert upcasters.upcast("ticket.opened", 1, {"subject": "ab"}) == (3, {"title": "ab", "title_length": 2})


def test_duplicate_registration_is_refused(ticket_upcasters):
    with pytest.raises(ValueError, match="already registered"):
        ticket_upcasters.register("ticket.opened", 1, _v1_to_v2)
    # and the original step is still the one used
    assert ticket_upcasters.upcast("ticket.opened", 1, {"subject": "x"})[1]["title"] == "x"


def test_missing_step_is_an_error_naming_type_and_version():
    upcasters = Upcasters()
    upcasters.register("ticket.opened", 2, _v2_to_v3)  # no v1 -> v2
    with pytest.raises(ValueError, match=r"ticket\.opened v1"):
        upcasters.upcast("ticket.opened", 1, {"subject": "x"})


def test_gap_in_the_middle_of_the_chain_is_an_error():
    upcasters = Upcasters()
    upcasters.register("ticket.opened", 1, _v1_to_v2)
    upcasters.register("ticket.opened", 3, lambda d: d)  # no v2 -> v3
    with pytest.raises(ValueError, match=r"v2"):
        upcasters.upcast("ticket.opened", 1, {"subject": "x"})


def test_unknown_types_are_left_alone(ticket_upcasters):
    payload = {"anything": 1}
    assert ticket_upcasters.upcast("ticket.closed", 1, payload) == (1, payload)
    assert ticket_upcasters.upcast("ticket.closed", 1, payload)[1] is payload


def test_upcasters_of_one_type_do_not_touch_another(ticket_upcasters):
    ticket_upcasters.register("customer.created", 1, lambda d: {**d, "v2": True})
    assert ticket_upcasters.latest_version("customer.created") == 2
    assert ticket_upcasters.upcast("customer.created", 1, {}) == (2, {"v2": True})
    assert ticket_upcasters.latest_version("ticket.opened") == 3
