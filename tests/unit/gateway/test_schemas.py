"""What the gateway accepts before any service sees a request (services.gateway.schemas)."""
from __future__ import annotations

import pytest
from services.gateway.schemas import identity as identity_schemas
from services.gateway.schemas import meta as meta_schemas
from services.gateway.schemas import tickets as tickets_schemas
from marshmallow import ValidationError


TICKET = {"subject": "Where is my parcel?", "body": "Ordered a week ago, nothing yet."}
ATTACHMENT = {"filename": "receipt.pdf", "url": "https://files.example.test/receipt.pdf"}


def refused(schema, data) -> dict:
    """The field errors of a refused load (fails the test if it was accepted)."""
    with pytest.raises(ValidationError) as info:
        schema().load(data)
    return info.value.messages


# --- opening a ticket ------------------------------------------------------------------


def test_a_minimal_ticket_is_accepted_as_sent():
    assert tickets_schemas.TicketCreate().load(TICKET) == TICKET


def test_a_full_ticket_is_accepted():
    full = {**TICKET, "type": "delivery", "priority": "high", "order_id": "ord_1042", "customer_id": "cus_7",
            "attachments": [{**ATTACHMENT, "content_type": "application/pdf", "size": 1234}]}
    assert tickets_schemas.TicketCreate().load(full) == full


@pytest.mark.parametrize("field", ["status", "store_id", "author", "id", "version"])
def test_a_ticket_may_not_set_fields_the_server_owns(field):
    assert field in refused(tickets_schemas.TicketCreate, {**TICKET, field: "x"})


@pytest.mark.parametrize("missing", ["subject", "body"])
def test_subject_and_body_are_required(missing):
    data = {k: v for k, v in TICKET.items() if k != missing}
    assert list(refused(tickets_schemas.TicketCreate, data)) == [missing]


@pytest.mark.parametrize("field, value", [("subject", 5), ("subject", None), ("body", ["text"]),
                                          ("attachments", {"filename": "a"}), ("priority", 1)])
def test_wrong_types_are_refused(field, value):
    assert field in refused(tickets_schemas.TicketCreate, {**TICKET, field: value})


def test_the_longest_subject_and_body_are_accepted():
    longest = {"subject": "s" * 200, "body": "b" * 10000}
    assert tickets_schemas.TicketCreate().load(longest) == longest


@pytest.mark.parametrize("field, length", [("subject", 201), ("body", 10001)])
def test_over_long_values_are_refused(field, length):
    assert field in refused(tickets_schemas.TicketCreate, {**TICKET, field: "x" * length})


@pytest.mark.parametrize("field", ["subject", "body"])
def test_empty_text_is_refused(field):
    assert field in refused(tickets_schemas.TicketCreate, {**TICKET, field: ""})


@pytest.mark.parametrize("priority", ["critical", "HIGH", ""])
def test_an_unknown_priority_is_refused(priority):
    assert "priority" in refused(tickets_schemas.TicketCreate, {**TICKET, "priority": priority})


@pytest.mark.parametrize("type_", ["Delivery", "2fast", "refund-request", "a" * 51])
def test_a_type_must_be_a_lowercase_slug(type_):
    assert "type" in refused(tickets_schemas.TicketCreate, {**TICKET, "type": type_})


@pytest.mark.parametrize("order_id", ["ord 1", "ord/1", "o" * 65, ""])
def test_ids_are_short_and_plain(order_id):
    assert "order_id" in refused(tickets_schemas.TicketCreate, {**TICKET, "order_id": order_id})


def test_a_ticket_needs_no_order():
    assert tickets_schemas.TicketCreate().load({**TICKET, "order_id": None})["order_id"] is None


# --- attachments --------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["http://files.example.test/a.png", "https://files.example.test/a.png"])
def test_attachment_urls_may_be_http_or_https(url):
    assert tickets_schemas.Attachment().load({"filename": "a.png", "url": url})["url"] == url


@pytest.mark.parametrize("url", ["ftp://files.example.test/a.png", "javascript:alert(1)", "file:///etc/passwd",
                                 "data:text/html,hi", "not a url"])
def test_attachment_urls_of_other_schemes_are_refused(url):
    assert "url" in refused(tickets_schemas.Attachment, {"filename": "a.png", "url": url})


@pytest.mark.parametrize("size", [-1, True, "big", [1]])
def test_an_attachment_size_is_a_non_negative_integer(size):
    assert "size" in refused(tickets_schemas.Attachment, {**ATTACHMENT, "size": size})


def test_at_most_ten_attachments():
    assert tickets_schemas.MessageCreate().load({"body": "hi", "attachments": [ATTACHMENT] * 10})
    assert "attachments" in refused(tickets_schemas.MessageCreate, {"body": "hi", "attachments": [ATTACHMENT] * 11})


def test_a_bad_attachment_is_named_by_its_position():
    messages = refused(tickets_schemas.MessageCreate, {"body": "hi", "attachments": [ATTACHMENT, {"filename": "x"}]})
    assert messages == {"attachments": {1: {"url": ["Missing data for required field."]}}}


# --- ratings ------------------------------------------------------------------------------


@pytest.mark.parametrize("score", [1, 2, 3, 4, 5])
def test_scores_one_to_five_are_accepted(score):
    assert tickets_schemas.RatingRequest().load({"score": score}) == {"score": score}


@pytest.mark.parametrize("score", [6, 0, -1, "5", True, False, 4.5, 5.0, None],
                         ids=lambda v: repr(v))
def test_anything_but_an_integer_from_one_to_five_is_refused(score):
    assert "score" in refused(tickets_schemas.RatingRequest, {"score": score})


def test_a_rating_needs_a_score_and_may_have_a_comment():
    assert "score" in refused(tickets_schemas.RatingRequest, {"comment": "great"})
    assert tickets_schemas.RatingRequest().load({"score": 5, "comment": "quick"}) == {"score": 5, "comment": "quick"}
    assert "comment" in refused(tickets_schemas.RatingRequest, {"score": 5, "comment": "c" * 2001})


# --- assignment, updates, status -----------------------------------------------------------


@pytest.mark.parametrize("body", [{"agent_id": "agt_1"}, {"team": "payments"},
                                  {"agent_id": "agt_1", "team": "payments"},
                                  {"agent_id": None}, {"team": None}, {"agent_id": None, "team": None}])
def test_an_assignment_names_an_agent_a_team_or_both_and_null_unassigns(body):
    assert tickets_schemas.AssignRequest().load(body) == body


def test_an_assignment_naming_nothing_is_refused():
    assert "_schema" in refused(tickets_schemas.AssignRequest, {})


def test_an_assignment_refuses_a_bad_agent_id():
    assert "agent_id" in refused(tickets_schemas.AssignRequest, {"agent_id": "agent one"})


@pytest.mark.parametrize("body", [{"priority": "urgent"}, {"type": "refund"}, {"priority": "low", "type": "refund"}])
def test_an_update_sets_priority_type_or_both(body):
    assert tickets_schemas.TicketUpdate().load(body) == body


def test_an_update_naming_no_field_is_refused():
    assert refused(tickets_schemas.TicketUpdate, {}) == {"_schema": ["send priority, type or both"]}


@pytest.mark.parametrize("body", [{"priority": None}, {"subject": "new subject"}, {"status": "closed"}])
def test_an_update_refuses_nulls_and_fields_it_cannot_change(body):
    assert set(body) <= set(refused(tickets_schemas.TicketUpdate, body))


@pytest.mark.parametrize("status", ["open", "pending", "on_hold", "under_review", "solved", "closed"])
def test_every_ticket_status_is_accepted(status):
    assert tickets_schemas.StatusRequest().load({"status": status}) == {"status": status}


@pytest.mark.parametrize("status", ["reopened", "Open", "", None])
def test_an_unknown_status_is_refused(status):
    assert "status" in refused(tickets_schemas.StatusRequest, {"status": status})


def test_a_tag_is_required_and_short():
    assert "tag" in refused(tickets_schemas.TagRequest, {})
    assert "tag" in refused(tickets_schemas.TagRequest, {"tag": "t" * 51})


# --- stores and staff ------------------------------------------------------------------------


def test_an_agent_needs_a_name_an_email_and_a_staff_role():
    assert set(refused(identity_schemas.AgentCreate, {})) == {"name", "email", "role"}
    assert "role" in refused(identity_schemas.AgentCreate,
                             {"name": "Ana", "email": "ana@example.test", "role": "owner"})
    assert "email" in refused(identity_schemas.AgentCreate, {"name": "Ana", "email": "ana", "role": "agent"})


def test_a_store_needs_only_a_name():
    assert identity_schemas.StoreCreate().load({"name": "Corner Shop"}) == {"name": "Corner Shop"}
    assert "name" in refused(identity_schemas.StoreCreate, {})


# --- query strings ----------------------------------------------------------------------------


def test_a_ticket_list_defaults_to_newest_first_twenty_five_at_a_time():
    assert tickets_schemas.TicketQuery().load({}) == {"sort": "-created", "limit": 25}


@pytest.mark.parametrize("limit", ["1", "100"])
def test_limits_from_one_to_a_hundred_are_accepted(limit):
    assert tickets_schemas.TicketQuery().load({"limit": limit})["limit"] == int(limit)


@pytest.mark.parametrize("limit", ["0", "101", "-5", "ten", "2.5", ""])
def test_limits_outside_one_to_a_hundred_are_refused(limit):
    assert "limit" in refused(tickets_schemas.TicketQuery, {"limit": limit})


@pytest.mark.parametrize("sort", ["created", "-created", "updated", "-updated", "priority", "-priority"])
def test_every_documented_sort_is_accepted(sort):
    assert tickets_schemas.TicketQuery().load({"sort": sort})["sort"] == sort


@pytest.mark.parametrize("sort", ["subject", "--created", "+created", "created_at", "-created; drop table"])
def test_other_sorts_are_refused(sort):
    assert "sort" in refused(tickets_schemas.TicketQuery, {"sort": sort})


def test_unknown_query_parameters_are_refused():
    assert "page" in refused(tickets_schemas.TicketQuery, {"page": "2"})


def test_events_start_at_position_zero_a_hundred_at_a_time():
    # As before the feed had other sources: the tickets service's, by position.
    assert meta_schemas.EventsQuery().load({}) == {"source": "tickets", "after": "0", "limit": 100}


def test_the_whole_feed_pages_by_cursor_and_one_source_by_position():
    assert meta_schemas.EventsQuery().load({"source": "all"}) == {"source": "all", "limit": 100}
    assert meta_schemas.EventsQuery().load({"cursor": "abc"}) == {"source": "all", "cursor": "abc", "limit": 100}
    assert meta_schemas.EventsQuery().load({"source": "customers"})["after"] == "0"
    assert list(refused(meta_schemas.EventsQuery, {"source": "tickets", "cursor": "abc"})) == ["cursor"]
    assert list(refused(meta_schemas.EventsQuery, {"source": "all", "after": "5"})) == ["after"]
    assert list(refused(meta_schemas.EventsQuery, {"cursor": "abc", "after": "5"})) == ["after"]
    assert list(refused(meta_schemas.EventsQuery, {"source": "orders"})) == ["source"]


@pytest.mark.parametrize("after", ["12345", "0", "9" * 19])
def test_events_after_a_position(after):
    assert meta_schemas.EventsQuery().load({"after": after})["after"] == after


@pytest.mark.parametrize("after", ["-1", "1e6", "abc", "", " 1", "1 ", "9" * 20])
def test_events_after_must_be_digits(after):
    assert refused(meta_schemas.EventsQuery, {"after": after}) == {"after": ["a position"]}


@pytest.mark.parametrize("limit", ["0", "1001"])
def test_events_limit_is_one_to_a_thousand(limit):
    assert "limit" in refused(meta_schemas.EventsQuery, {"limit": limit})


def test_as_of_must_be_a_moment_with_a_time_zone():
    as_of = tickets_schemas.TicketGetQuery().load({"as_of": "2024-05-01T12:00:00Z"})["as_of"]
    assert as_of.utcoffset().total_seconds() == 0
    assert "as_of" in refused(tickets_schemas.TicketGetQuery, {"as_of": "2024-05-01T12:00:00"})
    assert "as_of" in refused(tickets_schemas.TicketGetQuery, {"as_of": "yesterday"})


def test_a_team_filter_is_an_id_kept_as_sent_even_when_its_digits_look_like_a_card_number():
    # 0.3% of UUIDs hold a Luhn-valid run of digits: masking one would filter by another team.
    team = "9aff9a76-8938-4548-8770-7d07540c53be"
    assert tickets_schemas.TicketQuery().load({"team": team})["team"] == team
    assert tickets_schemas.BulkFilter().load({"team": team})["team"] == team
