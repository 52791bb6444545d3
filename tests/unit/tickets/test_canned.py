"""Canned responses (services.tickets.domain.canned): what may be saved, and filling
placeholders when an agent sends one."""
from __future__ import annotations

import pytest

from seedwork.errors import InvalidCommand
from services.tickets.domain import canned

CARD = "4111 1111 1111 1111"
VALUES = {"customer_name": "نورة", "order_id": "ORD-1001", "ticket_number": 1042, "store_name": "متجر الورد",
          "agent_name": "سارة"}


def refused(call, *args, **kwargs) -> InvalidCommand:
    with pytest.raises(InvalidCommand) as caught:
        call(*args, **kwargs)
    return caught.value


# --- saving ----------------------------------------------------------------------------------


def test_a_response_is_trimmed_and_kept():
    assert canned.clean_canned({"title": "  شكر  ", "body": " شكراً {customer_name}!\n{agent_name} "}) == {
        "title": "شكر", "body": "شكراً {customer_name}!\n{agent_name}"}


def test_every_placeholder_and_literal_braces_may_be_saved():
    body = " ".join("{" + name + "}" for name in canned.PLACEHOLDERS) + " {{not_a_placeholder}}"
    assert canned.clean_canned({"title": "all", "body": body})["body"] == body


def test_creating_needs_both_fields():
    assert list(refused(canned.clean_canned, {"title": "t"}).errors) == ["body"]
    assert list(refused(canned.clean_canned, {"body": "b"}).errors) == ["title"]


def test_a_partial_change_keeps_only_what_was_sent():
    assert canned.clean_canned({"body": "جديد"}, partial=True) == {"body": "جديد"}
    assert canned.clean_canned({"title": "جديد"}, partial=True) == {"title": "جديد"}


def test_a_partial_change_must_send_something():
    assert set(refused(canned.clean_canned, {}, partial=True).errors) == {"title", "body"}


@pytest.mark.parametrize("fields, field", [
    ({"title": "t", "body": "b", "id": "x"}, "id"),
    ({"title": "", "body": "b"}, "title"),
    ({"title": "x" * 101, "body": "b"}, "title"),
    ({"title": "two\nlines", "body": "b"}, "title"),
    ({"title": 5, "body": "b"}, "title"),
    ({"title": "t", "body": "   "}, "body"),
    ({"title": "t", "body": "x" * 5001}, "body"),
    ({"title": "t", "body": "{tracking_url}"}, "body"),
    ({"title": "t", "body": "{order_id"}, "body"),
    ({"title": "t", "body": "{}"}, "body"),
    ({"title": "t", "body": "{Order_ID}"}, "body"),
])
def test_a_bad_field_is_named(fields, field):
    assert list(refused(canned.clean_canned, fields).errors) == [field]


def test_the_limits_are_inclusive():
    assert canned.clean_canned({"title": "x" * 100, "body": "y" * 5000})


def test_an_unknown_placeholder_is_named_with_the_allowed_ones():
    error = refused(canned.clean_canned, {"title": "t", "body": "{order_total}"})
    assert error.errors["body"] == ["unknown placeholder {order_total}; use one of {customer_name}, {order_id}, "
                                    "{ticket_number}, {store_name}, {agent_name}"]


def test_card_numbers_are_masked_in_title_and_body():
    cleaned = canned.clean_canned({"title": f"card {CARD}", "body": "card 5500-0000-0000-0004"})
    assert cleaned == {"title": "card •••• •••• •••• 1111", "body": "card •••• •••• •••• 0004"}


# --- sending --------------------------------------------------------------------------------


def test_placeholders_are_filled_from_the_ticket():
    body = "مرحباً {customer_name}، بخصوص التذكرة {ticket_number} والطلب {order_id}. {store_name} - {agent_name}"
    assert canned.render_canned(body, VALUES) == (
        "مرحباً نورة، بخصوص التذكرة 1042 والطلب ORD-1001. متجر الورد - سارة")


def test_literal_braces_render_as_single_braces():
    assert canned.render_canned("{{customer_name}} = {customer_name}", VALUES) == "{customer_name} = نورة"


@pytest.mark.parametrize("value", [None, "", "  "])
def test_a_placeholder_without_a_value_refuses_the_send(value):
    error = refused(canned.render_canned, "طلبك {order_id} يا {customer_name}", {**VALUES, "order_id": value})
    assert error.code == "placeholder_unavailable"
    assert error.errors == {"canned_response_id": ["{order_id} has no value on this ticket"]}


def test_every_missing_placeholder_is_listed():
    error = refused(canned.render_canned, "{agent_name} {order_id} {order_id}", {"customer_name": "x"})
    assert error.errors == {"canned_response_id": ["{order_id} has no value on this ticket",
                                                   "{agent_name} has no value on this ticket"]}


def test_only_the_placeholders_used_need_values():
    assert canned.render_canned("شكراً لتواصلك", {}) == "شكراً لتواصلك"
    assert canned.render_canned("{{order_id}}", {}) == "{order_id}"
    assert canned.render_canned("#{ticket_number}", {"ticket_number": 0}) == "#0"
