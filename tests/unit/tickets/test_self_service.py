"""The shopper's self-service flows in the domain (services.tickets.domain:
selfservice, selfservice_settings, templates): settings, templates, who may
use a flow, the delayed-order table with its 48-hour line, and each flow's input."""
from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

import pytest

from seedwork.errors import Conflict, InvalidCommand, NotFound
from services.tickets.domain import selfservice as ss
from services.tickets.domain.selfservice_settings import (
    DEFAULT_SETTINGS, TEXT_PLACEHOLDERS, clean_settings_patch, merge_settings, with_defaults,
)
from services.tickets.domain import templates
from services.tickets.domain.selfservice import DelayedOrderDecision

NOW = datetime(2024, 5, 10, 12, 0, tzinfo=timezone.utc)
CARD = "4111 1111 1111 1111"  # Luhn-valid test numbers
CARD_DASHED = "5500-0000-0000-0004"
MASKED = "•••• •••• •••• 1111"


def order(status="delivering", age=timedelta(hours=1), **overrides):
    fields = {
        "id": "ORD-1001", "customer_id": "cust-1", "status": status,
        "created_at": (NOW - age).isoformat(), "updated_at": NOW.isoformat(),
        "total": "250.00", "currency": "SAR", "payment_method": "mada",
        "items": [{"name": "قميص أزرق", "quantity": 2, "price": "100.00", "sku": "SH-BLUE"},
                  {"name": "حزام", "quantity": 1, "price": "50.00"}],
        "tracking_url": None,
    }
    fields.update(overrides)
    return fields


def refused(call, *args, **kwargs) -> InvalidCommand:
    with pytest.raises(InvalidCommand) as caught:
        call(*args, **kwargs)
    return caught.value


# --- templates: {name}, {{ and }} ------------------------------------------------------


def test_placeholders_are_the_names_in_braces():
    assert templates.placeholders("مرحباً {customer_name}، طلبك {order_id} و{order_id}") == {"customer_name", "order_id"}
    assert templates.placeholders("no placeholders") == set()


def test_doubled_braces_are_literal_braces_not_placeholders():
    assert templates.placeholders("{{order_id}}") == set()
    assert templates.placeholders("{{{order_id}}}") == {"order_id"}
    assert templates.render("{{x}} {{{order_id}}}", {"order_id": "7"}) == "{x} {7}"


@pytest.mark.parametrize("template", ["{", "}", "a { b", "a } b", "{order_id", "order_id}", "{}",
                                      "{Order}", "{order id}", "{order.id}", "{0}", "{a[0]}", "{a{b}"])
def test_malformed_templates_are_a_readable_value_error(template):
    with pytest.raises(ValueError, match="brace"):
        templates.placeholders(template)


def test_a_malformed_placeholder_is_not_echoed_in_the_error():
    with pytest.raises(ValueError) as caught:
        templates.placeholders("{" + CARD + "}")
    assert "1111" not in str(caught.value)


def test_render_fills_values_and_none_or_unknown_names_render_empty():
    assert templates.render("{a}-{b}-{c}", {"a": 1, "b": None}) == "1--"


def test_render_never_uses_format_attribute_or_index_access():
    # Such names are refused when saved; rendered anyway, they stay as written.
    assert templates.render("{a.__class__} {a[0]}", {"a": "x"}) == "{a.__class__} {a[0]}"
    assert templates.render("lone { and }", {}) == "lone { and }"


def test_default_texts_use_only_their_allowed_placeholders():
    for key, text in DEFAULT_SETTINGS["texts"].items():
        assert templates.placeholders(text) <= TEXT_PLACEHOLDERS[key], key
    assert templates.render(DEFAULT_SETTINGS["texts"]["tracking_message"],
                     {"customer_name": "نورة", "order_id": "ORD-1", "tracking_url": "https://t.example/1"}) == (
        "مرحباً نورة، طلبك رقم ORD-1 في الطريق إليك. تتبّع الشحنة من هنا: https://t.example/1")


# --- settings: the PATCH body -----------------------------------------------------------


def test_a_full_patch_is_cleaned():
    patch = {"enabled": True, "allow_attachments": False, "default_reply_template_id": "canned-1",
             "tracking_url_template": "https://track.example.com/o/{order_id}?src=help",
             "texts": {"tracking_message": "  تتبع طلبك {order_id}: {tracking_url}  "}}
    cleaned = {**patch, "texts": {"tracking_message": "تتبع طلبك {order_id}: {tracking_url}"}}
    assert clean_settings_patch(patch) == cleaned


def test_nulls_clear_the_template_id_and_url_template():
    assert clean_settings_patch({"default_reply_template_id": None, "tracking_url_template": None}) == {
        "default_reply_template_id": None, "tracking_url_template": None}


@pytest.mark.parametrize("patch, field", [
    ({"colour": "blue"}, "colour"),
    ({"version": 3}, "version"),
    ({"enabled": "true"}, "enabled"),
    ({"enabled": 1}, "enabled"),
    ({"allow_attachments": None}, "allow_attachments"),
    ({"default_reply_template_id": ""}, "default_reply_template_id"),
    ({"default_reply_template_id": "   "}, "default_reply_template_id"),
    ({"default_reply_template_id": "x" * 65}, "default_reply_template_id"),
    ({"default_reply_template_id": 7}, "default_reply_template_id"),
    ({"tracking_url_template": "ftp://t.example/{order_id}"}, "tracking_url_template"),
    ({"tracking_url_template": "t.example/{order_id}"}, "tracking_url_template"),
    ({"tracking_url_template": "https://t.example/track"}, "tracking_url_template"),
    ({"tracking_url_template": "https://t.example/{order_id}/{customer_name}"}, "tracking_url_template"),
    ({"tracking_url_template": "https://t.example/{order_id"}, "tracking_url_template"),
    ({"tracking_url_template": "https://t.example/ {order_id}"}, "tracking_url_template"),
    ({"tracking_url_template": "https://t.example/{order_id}/" + "x" * 2000}, "tracking_url_template"),
    ({"tracking_url_template": 5}, "tracking_url_template"),
    ({"texts": "hello"}, "texts"),
    ({"texts": {"greeting": "hi"}}, "texts.greeting"),
    ({"texts": {"tracking_message": ""}}, "texts.tracking_message"),
    ({"texts": {"tracking_message": "   "}}, "texts.tracking_message"),
    ({"texts": {"tracking_message": None}}, "texts.tracking_message"),
    ({"texts": {"tracking_message": "x" * 1001}}, "texts.tracking_message"),
    ({"texts": {"tracking_message": "{ticket_number}"}}, "texts.tracking_message"),
    ({"texts": {"ticket_opened_message": "{order_id}"}}, "texts.ticket_opened_message"),
    ({"texts": {"order_details_message": "{items"}}, "texts.order_details_message"),
])
def test_a_bad_patch_names_its_field(patch, field):
    assert list(refused(clean_settings_patch, patch).errors) == [field]


def test_each_text_accepts_exactly_its_placeholders():
    for key, allowed in TEXT_PLACEHOLDERS.items():
        text = " ".join("{" + name + "}" for name in sorted(allowed))
        assert clean_settings_patch({"texts": {key: text}}) == {"texts": {key: text}}


def test_the_unknown_placeholder_is_named_with_the_allowed_ones():
    error = refused(clean_settings_patch, {"texts": {"ticket_opened_message": "{order_id}"}})
    assert error.errors["texts.ticket_opened_message"] == [
        "unknown placeholder {order_id}; use one of {customer_name}, {ticket_number}"]


def test_a_text_is_at_most_1000_characters_and_card_numbers_are_masked():
    assert clean_settings_patch({"texts": {"tracking_message": "x" * 1000}})
    cleaned = clean_settings_patch({"texts": {"tracking_message": f"pay with {CARD} or {CARD_DASHED}"}})
    assert cleaned["texts"]["tracking_message"] == "pay with •••• •••• •••• 1111 or •••• •••• •••• 0004"


def test_an_empty_patch_is_no_change():
    assert clean_settings_patch({}) == {}
    assert merge_settings(DEFAULT_SETTINGS, {}) == (DEFAULT_SETTINGS, {})


# --- settings: merging -------------------------------------------------------------------


def test_merge_applies_the_patch_and_reports_only_what_changed():
    settings, changes = merge_settings(DEFAULT_SETTINGS, {"enabled": True, "allow_attachments": True})
    assert settings["enabled"] is True and settings["allow_attachments"] is True
    assert changes == {"enabled": True}


def test_texts_merge_key_by_key():
    first, _ = merge_settings(DEFAULT_SETTINGS, {"texts": {"tracking_message": "A {order_id}"}})
    second, changes = merge_settings(first, {"texts": {"ticket_opened_message": "B {ticket_number}",
                                                          "tracking_message": "A {order_id}"}})
    assert second["texts"] == {**DEFAULT_SETTINGS["texts"], "tracking_message": "A {order_id}",
                               "ticket_opened_message": "B {ticket_number}"}
    assert changes == {"texts": {"ticket_opened_message": "B {ticket_number}"}}


def test_merge_leaves_its_inputs_and_the_defaults_alone():
    before = copy.deepcopy(DEFAULT_SETTINGS)
    patch = {"texts": {"tracking_message": "A {order_id}"}, "tracking_url_template": "https://t.example/{order_id}"}
    settings, _ = merge_settings(DEFAULT_SETTINGS, patch)
    settings["texts"]["order_details_message"] = "changed"
    assert DEFAULT_SETTINGS == before
    assert patch == {"texts": {"tracking_message": "A {order_id}"},
                     "tracking_url_template": "https://t.example/{order_id}"}


def test_settings_stored_before_a_field_existed_get_its_default():
    settings, changes = merge_settings({"enabled": True, "texts": {}}, {})
    assert settings == {**DEFAULT_SETTINGS, "enabled": True}
    assert changes == {}


def test_stored_settings_are_read_with_the_defaults_of_what_came_later():
    stored = {"enabled": True, "texts": {"tracking_message": "A {order_id}"}}
    read = with_defaults(stored)
    assert read["enabled"] is True and read["allow_attachments"] is True
    assert read["texts"] == {**DEFAULT_SETTINGS["texts"], "tracking_message": "A {order_id}"}
    read["texts"]["tracking_message"] = "changed"
    assert stored["texts"]["tracking_message"] == "A {order_id}"  # a copy, not the stored dict
    assert with_defaults({}) == DEFAULT_SETTINGS and with_defaults({}) is not DEFAULT_SETTINGS


def test_clearing_a_value_is_a_change():
    current, _ = merge_settings(DEFAULT_SETTINGS, {"default_reply_template_id": "canned-1"})
    settings, changes = merge_settings(current, {"default_reply_template_id": None})
    assert settings["default_reply_template_id"] is None
    assert changes == {"default_reply_template_id": None}


# --- who may use a flow, and which order it is about ----------------------------------------


def test_every_flow_waits_for_the_store_to_turn_self_service_on():
    with pytest.raises(Conflict) as refused:
        ss.check_may_use(DEFAULT_SETTINGS)
    assert refused.value.code == "self_service_disabled" and list(refused.value.errors) == ["enabled"]
    ss.check_may_use({**DEFAULT_SETTINGS, "enabled": True})


def test_a_flow_is_about_an_order_of_the_shopper_asking():
    assert ss.shoppers_order(order(), "cust-1", "ORD-1001") == order()
    for found, order_id, named in [(None, "ORD-9", "ORD-9"), (order(customer_id="cust-2"), "ORD-1001", "ORD-1001")]:
        with pytest.raises(NotFound) as missing:
            ss.shoppers_order(found, "cust-1", order_id)
        assert missing.value.code == "order_not_found" and missing.value.detail == f"no order {named}"


# --- my order is late: the 48-hour line ------------------------------------------------------

JUST_YOUNG = [timedelta(hours=48) - timedelta(microseconds=1), timedelta(hours=47, minutes=59), timedelta(0)]
JUST_OLD = [timedelta(hours=48), timedelta(hours=48, microseconds=1), timedelta(days=30)]


@pytest.mark.parametrize("age", JUST_YOUNG)
def test_under_48_hours_is_young(age):
    assert ss.decide_delayed_order(order("delivering", age), NOW, False).outcome == "track_order"


@pytest.mark.parametrize("age", JUST_OLD)
def test_48_hours_or_more_is_old(age):
    assert ss.decide_delayed_order(order("delivering", age), NOW, False).outcome == "ticket_opened"


def test_the_age_is_measured_across_offsets_and_from_datetimes():
    riyadh = timezone(timedelta(hours=3))
    created = (NOW - timedelta(hours=48)).astimezone(riyadh)
    assert ss.decide_delayed_order(order("in_progress", created_at=created.isoformat()), NOW, False).outcome == \
        "ticket_available"
    assert ss.decide_delayed_order(order("in_progress", created_at=created + timedelta(minutes=1)), NOW,
                                   False).outcome == "order_in_progress"
    zulu = (NOW - timedelta(hours=48)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ss.decide_delayed_order(order("in_progress", created_at=zulu), NOW, False).outcome == "ticket_available"


# --- my order is late: every status, age and choice ----------------------------------------

TRACK = DelayedOrderDecision("track_order", False, None, "tracking")
AVAILABLE = DelayedOrderDecision("ticket_available", False, None, None)
DETAILS = DelayedOrderDecision("order_details", False, None, "details")
IN_PROGRESS = DelayedOrderDecision("order_in_progress", False, None, None)
CANCELLED = DelayedOrderDecision("order_cancelled", False, None, None)
RETURNED = DelayedOrderDecision("order_returned", False, None, None)
AUTO_TICKET = DelayedOrderDecision("ticket_opened", True, "open", "tracking")
REVIEW_TICKET = DelayedOrderDecision("ticket_opened", True, "under_review", None)
OPEN_TICKET = DelayedOrderDecision("ticket_opened", True, "open", None)

# status: (young, old without open_ticket, old with open_ticket); young ignores open_ticket.
TABLE = {
    "delivering": (TRACK, AUTO_TICKET, AUTO_TICKET),
    "completed": (TRACK, AUTO_TICKET, AUTO_TICKET),
    "awaiting_review": (TRACK, AVAILABLE, REVIEW_TICKET),
    "delivered": (DETAILS, DETAILS, DETAILS),
    "in_progress": (IN_PROGRESS, AVAILABLE, OPEN_TICKET),
    "cancelled": (CANCELLED, CANCELLED, CANCELLED),
    "refused": (CANCELLED, CANCELLED, CANCELLED),
    "returned": (RETURNED, RETURNED, RETURNED),
}
CASES = [(status, age, open_ticket, TABLE[status][0] if age < ss.AUTO_TICKET_AGE else TABLE[status][1 + open_ticket])
         for status in TABLE
         for age in (timedelta(hours=47, minutes=59), timedelta(hours=48))
         for open_ticket in (False, True)]


@pytest.mark.parametrize("status, age, open_ticket, expected", CASES)
def test_the_delayed_order_table(status, age, open_ticket, expected):
    assert ss.decide_delayed_order(order(status, age), NOW, open_ticket) == expected


def test_every_decided_outcome_is_a_documented_one():
    assert {decision.outcome for *_, decision in CASES} | {"ticket_exists"} == set(ss.OUTCOMES)


def test_an_unknown_status_or_a_clock_without_offset_is_a_bug_not_a_guess():
    with pytest.raises(ValueError, match="status"):
        ss.decide_delayed_order(order("lost"), NOW, False)
    with pytest.raises(ValueError, match="timezone"):
        ss.decide_delayed_order(order(), NOW.replace(tzinfo=None), False)
    with pytest.raises(ValueError, match="offset"):
        ss.decide_delayed_order(order(created_at="2024-05-01T10:00:00"), NOW, False)


# --- tracking links and what the shopper sees of an order --------------------------------------


def test_the_orders_own_tracking_url_comes_first():
    settings = {**DEFAULT_SETTINGS, "tracking_url_template": "https://t.example/{order_id}"}
    assert ss.tracking_url(order(tracking_url="https://carrier.example/x"), settings) == "https://carrier.example/x"


def test_else_the_store_template_with_the_quoted_order_id():
    settings = {**DEFAULT_SETTINGS, "tracking_url_template": "https://t.example/track?o={order_id}&l=ar"}
    assert ss.tracking_url(order(), settings) == "https://t.example/track?o=ORD-1001&l=ar"
    assert ss.tracking_url(order(id="A/1 & b?"), settings) == "https://t.example/track?o=A%2F1%20%26%20b%3F&l=ar"


def test_else_no_link():
    assert ss.tracking_url(order(), DEFAULT_SETTINGS) is None


def test_the_order_summary_leaves_out_the_customer_id():
    summary = ss.order_summary(order(created_at=NOW))
    assert summary == {
        "id": "ORD-1001", "status": "delivering", "created_at": NOW.isoformat(), "total": "250.00",
        "currency": "SAR", "payment_method": "mada",
        "items": [{"name": "قميص أزرق", "quantity": 2, "price": "100.00", "sku": "SH-BLUE"},
                  {"name": "حزام", "quantity": 1, "price": "50.00"}],
        "tracking_url": None,
    }


def test_items_text_lists_quantities_and_names():
    assert ss.items_text(order()) == "2 × قميص أزرق، 1 × حزام"
    assert ss.items_text(order(items=[])) == ""


def test_order_details_message_renders_in_full():
    values = {"customer_name": "نورة", "order_id": "ORD-1001", "status": ss.STATUS_LABELS["delivered"],
              "total": "250.00", "currency": "SAR", "items": ss.items_text(order())}
    message = templates.render(DEFAULT_SETTINGS["texts"]["order_details_message"], values)
    assert "ORD-1001" in message and "2 × قميص أزرق" in message and "250.00 SAR" in message
    assert "{" not in message
    assert set(ss.STATUS_LABELS) == {status for status in TABLE}


def test_the_flows_tickets_say_what_they_are_about():
    late = ss.delayed_ticket(order("in_progress"), None, DelayedOrderDecision("ticket_opened", True, "open", None))
    assert late == {"subject": "تأخر الطلب رقم ORD-1001", "body": "طلبي رقم ORD-1001 متأخر (حالته: قيد التنفيذ).",
                    "type": "order_delayed", "order_id": "ORD-1001", "initial_status": "open"}
    assert ss.delayed_ticket(order(), "لم يصل", DelayedOrderDecision("ticket_opened", True, "open", None))[
        "body"] == "لم يصل"
    charged = ss.charged_ticket({"payment_method": "mada", "card_last4": "4242", "details": "twice"})
    assert charged["handled_by"] == "platform" and charged["flow"] == {"payment": {"method": "mada",
                                                                                   "card_last4": "4242"}}
    assert "4242" not in charged["subject"]
    change = ss.data_change_ticket({"city": "جدة"}, None)
    assert change["type"] == "customer_data_change" and change["flow"] == {"data_change": {"fields": {"city": "جدة"}}}


def test_the_shopper_is_told_in_the_stores_words_or_ours():
    own = with_defaults({"texts": {"tracking_message": "{customer_name}: {tracking_url}"}})
    assert ss.tracking_message(own, order(), "نورة", "https://t.example/1") == "نورة: https://t.example/1"
    assert ss.tracking_message(own, order(), "نورة", None) == f"نورة: {ss.NO_TRACKING_URL}"
    assert "1042" in ss.ticket_opened_message(DEFAULT_SETTINGS, 1042, "نورة")
    assert "1042" in ss.charged_message(1042, 3) and "3" in ss.charged_message(1042, 3)


# --- charged without an order number ------------------------------------------------------------


def test_a_charge_report_is_cleaned():
    assert ss.clean_charged({"payment_method": "mada", "card_last4": "1234", "details": "  خصم 250 ريال  "}) == {
        "payment_method": "mada", "card_last4": "1234", "details": "خصم 250 ريال"}


@pytest.mark.parametrize("method", ss.PAYMENT_METHODS)
def test_every_payment_method_is_accepted(method):
    cleaned = ss.clean_charged({"payment_method": method, "card_last4": "0000", "details": "x"})
    assert cleaned["payment_method"] == method


@pytest.mark.parametrize("method", ["cod", "visa", "", None, 1, ["mada"]])
def test_other_payment_methods_are_refused(method):
    assert list(refused(ss.clean_charged, {"payment_method": method, "card_last4": "1234", "details": "x"}).errors) == [
        "payment_method"]


@pytest.mark.parametrize("last4", ["4111111111111111", CARD, CARD_DASHED, "123", "12345", " 1234", "1234\n",
                                   "12a4", "١٢٣٤", "１２３４", 1234, None, ""])
def test_card_last4_is_exactly_four_ascii_digits_and_never_echoed(last4):
    error = refused(ss.clean_charged, {"payment_method": "mada", "card_last4": last4, "details": "x"})
    assert error.errors == {"card_last4": ["exactly the last 4 digits of the card"]}
    assert "1111" not in str(error.args) and "0004" not in str(error.args)


def test_card_numbers_in_details_are_masked():
    cleaned = ss.clean_charged({"payment_method": "credit_card", "card_last4": "1111",
                                "details": f"charged on {CARD} and again on {CARD_DASHED}"})
    assert cleaned["details"] == "charged on •••• •••• •••• 1111 and again on •••• •••• •••• 0004"


@pytest.mark.parametrize("details", [None, "", "   ", "x" * 5001, 7])
def test_details_are_1_to_5000_characters(details):
    assert list(refused(ss.clean_charged, {"payment_method": "mada", "card_last4": "1234",
                                           "details": details}).errors) == ["details"]
    assert ss.clean_charged({"payment_method": "mada", "card_last4": "1234", "details": "x" * 5000})


def test_the_subject_and_the_contact_promise():
    assert ss.charged_subject("mada") == "Charged without an order number (mada)"
    assert ss.expected_contact_by(NOW, 3) == NOW + timedelta(days=3)


# --- product exchange ----------------------------------------------------------------------------


def test_an_exchange_by_sku():
    assert ss.clean_exchange(order("delivered"), {"item": "SH-BLUE", "reason": "wrong_size",
                                                  "preferred_replacement": "  مقاس L  "}) == {
        "order_id": "ORD-1001", "item": {"name": "قميص أزرق", "sku": "SH-BLUE", "quantity": 2},
        "reason": "wrong_size", "preferred_replacement": "مقاس L"}


def test_an_exchange_by_exact_name_and_without_a_preference():
    assert ss.clean_exchange(order("delivered"), {"item": " حزام ", "reason": "damaged"}) == {
        "order_id": "ORD-1001", "item": {"name": "حزام", "sku": None, "quantity": 1},
        "reason": "damaged", "preferred_replacement": None}


@pytest.mark.parametrize("status", [s for s in TABLE if s != "delivered"])
def test_only_a_delivered_order_can_be_exchanged(status):
    with pytest.raises(Conflict) as caught:
        ss.clean_exchange(order(status), {"item": "SH-BLUE", "reason": "damaged"})
    assert caught.value.code == "order_not_delivered"
    assert list(caught.value.errors) == ["order_id"]


@pytest.mark.parametrize("item", ["sh-blue", "قميص", "SH-RED", "", "   ", None, 3])
def test_the_item_must_be_one_of_the_orders(item):
    assert refused(ss.clean_exchange, order("delivered"), {"item": item, "reason": "damaged"}).errors == {
        "item": ["not an item of this order"]}


@pytest.mark.parametrize("reason", ss.EXCHANGE_REASONS)
def test_every_exchange_reason_is_accepted(reason):
    assert ss.clean_exchange(order("delivered"), {"item": "SH-BLUE", "reason": reason})["reason"] == reason


@pytest.mark.parametrize("fields, field", [
    ({"item": "SH-BLUE", "reason": "too_expensive"}, "reason"),
    ({"item": "SH-BLUE"}, "reason"),
    ({"item": "SH-BLUE", "reason": "other", "preferred_replacement": "x" * 301}, "preferred_replacement"),
    ({"item": "SH-BLUE", "reason": "other", "preferred_replacement": 5}, "preferred_replacement"),
])
def test_bad_exchange_fields_are_named(fields, field):
    assert list(refused(ss.clean_exchange, order("delivered"), fields).errors) == [field]


def test_a_preferred_replacement_is_card_masked():
    cleaned = ss.clean_exchange(order("delivered"), {"item": "SH-BLUE", "reason": "other",
                                                     "preferred_replacement": f"refund to {CARD}"})
    assert cleaned["preferred_replacement"] == f"refund to {MASKED}"


# --- customer data change ------------------------------------------------------------------------


def test_a_data_change_keeps_the_fields_sent():
    assert ss.clean_data_change({"changes": {"city": " جدة ", "mobile": "+966501234567"}}) == {
        "mobile": "+966501234567", "city": "جدة"}
    every = {name: "x" for name in ss.DATA_CHANGE_FIELDS}
    assert ss.clean_data_change({"changes": every}) == every


@pytest.mark.parametrize("changes", [None, {}, [], "name", {"name": "x", "birthday": "2000-01-01"}])
def test_changes_must_name_known_fields(changes):
    assert list(refused(ss.clean_data_change, {"changes": changes}).errors) == ["changes"]


def test_an_unknown_field_is_named_in_the_message():
    assert "birthday" in refused(ss.clean_data_change, {"changes": {"birthday": "x"}}).errors["changes"][0]


@pytest.mark.parametrize("value", ["", "   ", None, 5, "x" * 201])
def test_each_value_is_a_non_empty_string_of_at_most_200(value):
    assert list(refused(ss.clean_data_change, {"changes": {"email": value}}).errors) == ["changes.email"]
    assert ss.clean_data_change({"changes": {"email": "x" * 200}})


def test_a_card_number_in_a_data_change_is_masked():
    assert ss.clean_data_change({"changes": {"name": f"Noura {CARD}"}}) == {"name": f"Noura {MASKED}"}
