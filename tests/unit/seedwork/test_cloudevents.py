"""The published form of an event: CloudEvents 1.0, structured JSON mode.

Validity is checked with the official CloudEvents SDK (``cloudevents`` 2.2),
not with our own reading of the spec.
"""
from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from cloudevents.v1.http import from_json as legacy_from_json

from seedwork.bus import event_message
from seedwork.envelope import (
    CLOUDEVENTS_CONTENT_TYPE,
    Actor,
    Envelope,
    InvalidEvent,
    from_cloudevent,
    source_for,
    to_cloudevent,
)

UTC = timezone.utc
CORE_ATTRIBUTES = {"id", "source", "type", "specversion", "datacontenttype", "dataschema", "subject", "time"}
# CloudEvents 1.0 "Integer": a signed 32-bit whole number.
INT32 = range(-(2**31), 2**31)


def envelope(**overrides) -> Envelope:
    fields = dict(
        event_id=uuid.UUID("0b4a3e6c-2f4e-4d7e-9a53-5f6d3c3e1a01"),
        type="ticket.opened",
        schema_version=2,
        stream_id="ticket-42",
        version=3,
        position=(1000 << 20) + 7,
        store_id="store-7",
        actor=Actor("customer", "cust-9"),
        correlation_id=uuid.UUID("6f1c1f52-8d0a-4f0e-8c33-0e8f2b9b7c11"),
        causation_id=uuid.UUID("9a0f7f0e-1f44-4d7b-a9e2-3b8f6c2d5e22"),
        occurred_at=datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC),
        data={"subject": "Order 1001 arrived damaged", "lines": [1, 2], "nested": {"ok": True}},
    )
    fields.update(overrides)
    return Envelope(**fields)


def minimal_envelope() -> Envelope:
    return envelope(store_id=None, actor=Actor("system"), correlation_id=None, causation_id=None)


def published_body(event: Envelope, service: str = "tickets") -> bytes:
    """Exactly the bytes the relay publishes."""
    return event_message(event, service).body


def parse_with_sdk(body: bytes) -> CloudEvent:
    event = JSONFormat().read(None, body)  # raises CloudEventValidationError if invalid
    assert isinstance(event, CloudEvent)
    return event


# --- validity according to the SDK -------------------------------------------------


@pytest.mark.parametrize("make", [envelope, minimal_envelope], ids=["all-fields", "minimal"])
def test_published_body_is_a_valid_cloudevent(make):
    event = make()
    ce = parse_with_sdk(published_body(event))

    assert ce.get_specversion() == "1.0"
    assert ce.get_id() == str(event.event_id)
    assert ce.get_source() == "/seed/tickets" == source_for("tickets")
    assert ce.get_type() == "ticket.opened"
    assert ce.get_subject() == event.stream_id
    assert ce.get_time() == event.occurred_at
    assert ce.get_time().utcoffset() == timedelta(0)
    assert ce.get_datacontenttype() == "application/json"
    assert ce.get_data() == event.data


def test_published_body_is_accepted_by_the_legacy_sdk_api_too():
    event = envelope()
    ce = legacy_from_json(published_body(event))
    assert ce["id"] == str(event.event_id)
    assert ce["type"] == event.type
    assert ce["source"] == "/seed/tickets"
    assert ce.data == event.data


def test_extension_attributes_carry_the_envelope_fields():
    event = envelope()
    ce = parse_with_sdk(published_body(event))

    assert ce.get_extension("dataschemaversion") == 2
    assert ce.get_extension("streamversion") == 3
    assert int(ce.get_extension("position")) == event.position
    assert ce.get_extension("storeid") == "store-7"
    assert ce.get_extension("actorkind") == "customer"
    assert ce.get_extension("actorid") == "cust-9"
    assert ce.get_extension("correlationid") == str(event.correlation_id)
    assert ce.get_extension("causationid") == str(event.causation_id)


def test_absent_optional_fields_are_omitted_not_null():
    body = to_cloudevent(minimal_envelope(), "tickets")
    for name in ("storeid", "actorid", "correlationid", "causationid"):
        assert name not in body
    assert None not in body.values()


@pytest.mark.parametrize("make", [envelope, minimal_envelope], ids=["all-fields", "minimal"])
def test_extension_attribute_names_follow_the_spec(make):
    # Spec: lowercase a-z / 0-9 only, and SHOULD NOT exceed 20 characters.
    extensions = set(to_cloudevent(make(), "tickets")) - CORE_ATTRIBUTES - {"data"}
    assert extensions  # we do use extensions
    for name in extensions:
        assert re.fullmatch(r"[a-z0-9]{1,20}", name), name


def _assert_extension_values_have_cloudevent_types(body: dict) -> None:
    for name in set(body) - CORE_ATTRIBUTES - {"data"}:
        value = body[name]
        assert isinstance(value, (str, bool, int)), (name, value)
        if isinstance(value, int) and not isinstance(value, bool):
            assert value in INT32, f"{name}={value} is outside the CloudEvents Integer range"


def test_extension_values_are_cloudevent_types_for_small_positions():
    _assert_extension_values_have_cloudevent_types(to_cloudevent(envelope(position=(3 << 20) + 1), "tickets"))


def test_extension_values_are_cloudevent_types_for_realistic_positions():
    # Transaction ids pass 2048 within minutes on any real database.
    _assert_extension_values_have_cloudevent_types(to_cloudevent(envelope(position=(5_000_000 << 20) + 3), "tickets"))


def test_time_is_rfc3339_utc_with_z_whatever_the_stored_zone():
    local = datetime(2024, 5, 1, 14, 30, 15, tzinfo=timezone(timedelta(hours=2)))
    body = to_cloudevent(envelope(occurred_at=local), "tickets")
    assert body["time"] == "2024-05-01T12:30:15Z"


def test_time_keeps_microseconds():
    body = to_cloudevent(envelope(), "tickets")
    assert body["time"] == "2024-05-01T12:30:15.123456Z"


def test_source_names_the_publishing_service():
    assert to_cloudevent(envelope(), "customers")["source"] == "/seed/customers"
    assert parse_with_sdk(published_body(envelope(), "customers")).get_source() == "/seed/customers"


def test_structured_mode_content_type_constant():
    assert CLOUDEVENTS_CONTENT_TYPE == JSONFormat().get_content_type()


# --- round trip ------------------------------------------------------------------------


@pytest.mark.parametrize("make", [envelope, minimal_envelope], ids=["all-fields", "minimal"])
def test_round_trip_through_the_published_bytes(make):
    event = make()
    assert from_cloudevent(json.loads(published_body(event))) == event


def test_round_trip_of_the_dict():
    event = envelope()
    assert from_cloudevent(to_cloudevent(event, "tickets")) == event


def test_round_trip_normalises_time_to_utc():
    local = datetime(2024, 5, 1, 14, 30, 15, 500, tzinfo=timezone(timedelta(hours=2)))
    back = from_cloudevent(json.loads(published_body(envelope(occurred_at=local))))
    assert back.occurred_at == local
    assert back.occurred_at.utcoffset() == timedelta(0)


def test_round_trip_with_empty_data():
    event = envelope(data={})
    assert from_cloudevent(json.loads(published_body(event))) == event


def test_sdk_built_event_with_seed_extensions_is_readable():
    """A CloudEvent produced by another tool (the SDK) with our extensions is understood."""
    event_id = uuid.uuid4()
    ce = CloudEvent(
        {
            "id": str(event_id), "source": "/seed/tickets", "type": "ticket.closed", "subject": "ticket-1",
            "time": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "datacontenttype": "application/json",
            "dataschemaversion": 1, "streamversion": 5, "position": 99, "actorkind": "agent", "actorid": "a-1",
        },
        data={"reason": "solved"},
    )
    back = from_cloudevent(json.loads(JSONFormat().write(ce)))
    assert back.event_id == event_id
    assert (back.type, back.stream_id, back.version, back.position) == ("ticket.closed", "ticket-1", 5, 99)
    assert back.actor == Actor("agent", "a-1")
    assert back.occurred_at == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert back.data == {"reason": "solved"}
    assert back.store_id is None and back.correlation_id is None


# --- malformed bodies ----------------------------------------------------------------------


def good_body() -> dict:
    return json.loads(published_body(envelope()))


@pytest.mark.parametrize(
    "key", ["specversion", "id", "type", "subject", "time", "dataschemaversion", "streamversion", "position",
            "actorkind"],
)
def test_missing_required_attribute_is_invalid(key):
    body = good_body()
    del body[key]
    with pytest.raises(InvalidEvent):
        from_cloudevent(body)


@pytest.mark.parametrize(
    "key, value",
    [
        ("specversion", "0.3"),
        ("id", "not-a-uuid"),
        ("id", ""),
        ("time", "yesterday"),
        ("time", ""),
        ("dataschemaversion", "two"),
        ("streamversion", None),
        ("position", "1e"),
        ("actorkind", "robot"),
        ("correlationid", "nope"),
        ("causationid", "123"),
    ],
)
def test_bad_attribute_value_is_invalid(key, value):
    body = good_body()
    body[key] = value
    with pytest.raises(InvalidEvent):
        from_cloudevent(body)


@pytest.mark.parametrize("body", [None, [], ["specversion"], "ticket.opened", 42, {}])
def test_body_that_is_not_an_event_object_is_invalid(body):
    with pytest.raises(InvalidEvent):
        from_cloudevent(body)


@pytest.mark.parametrize("key, value", [("id", 123), ("time", 1714566615), ("id", ["x"])])
def test_wrongly_typed_attribute_is_invalid_not_a_crash(key, value):
    body = good_body()
    body[key] = value
    with pytest.raises(InvalidEvent):
        from_cloudevent(body)


def test_time_without_offset_is_invalid():
    body = good_body()
    body["time"] = "2024-05-01T12:30:15"
    with pytest.raises(InvalidEvent):
        from_cloudevent(body)
