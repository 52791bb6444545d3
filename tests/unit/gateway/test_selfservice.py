"""The gateway's side of self-service (docs/self-service.md): the request
schemas, card numbers masked before anything leaves the gateway, the routes
against hand-written fakes of the services behind it, and the OpenAPI
document that lists them."""
from __future__ import annotations

import json

import pytest
from marshmallow import ValidationError

from seedwork.cards import redact_card_numbers
from seedwork.errors import Conflict, Forbidden, NotFound, PreconditionFailed
from services.gateway.attachments import ALLOWED_TYPES, Upload
from services.gateway.blobs import BlobNotFound
from seedwork.caller import PLATFORM
from services.gateway.http import BadRequest, load_json
from services.gateway.openapi import openapi_document, openapi_path
from services.gateway.routing import routes
from services.gateway.routing import ADMIN, ANYONE_IN_STORE, CUSTOMER, STAFF
from services.gateway.service import GatewayService
from services.gateway.schemas import customers as customers_schemas
from services.gateway.schemas import orders as orders_schemas
from services.gateway.schemas import selfservice as selfservice_schemas
from services.gateway.schemas import tickets as tickets_schemas
from tests.unit.gateway import fakes as gateway_fakes
from tests.unit.gateway.fakes import gateway_with, ALI, BLOCKED, STORE, Recorder, json_of, request

CARD = "4111 1111 1111 1111"
MASKED = "•••• •••• •••• 1111"
TICKET = "5f0c7a3e-2b1d-4c8e-9a6f-3d2e1c0b9a87"
CANNED = "3c1e5b7a-9d2f-4e6a-8b0c-1a2b3c4d5e6f"
UPLOADED = "8e7d6c5b-4a39-4281-9f0e-1d2c3b4a5968"
SHA = "ab" * 32


def refused(schema, data) -> dict:
    """The field errors of a refused load (fails the test if it was accepted)."""
    with pytest.raises(ValidationError) as info:
        schema().load(data)
    return info.value.messages


def bad_request(schema, body) -> BadRequest:
    """What the client gets for ``body``: the 400 with its flattened field names."""
    with pytest.raises(BadRequest) as info:
        load_json(request(body=body), schema())
    return info.value


# --- card numbers are masked in free text ------------------------------------------------------


def test_the_card_functions_live_in_seedwork_and_the_gateway_masks_with_them():
    from services.gateway.schemas import fields
    assert fields.redact_card_numbers is redact_card_numbers
    assert redact_card_numbers(f"paid with {CARD} twice") == f"paid with {MASKED} twice"


@pytest.mark.parametrize("schema, field, body", [
    (tickets_schemas.MessageCreate, "body", {}),
    (tickets_schemas.MessageCreate, "note", {"body": "hi"}),
    (tickets_schemas.NoteCreate, "body", {}),
    (tickets_schemas.TicketCreate, "body", {"subject": "s"}),
    (tickets_schemas.TicketCreate, "subject", {"body": "b"}),
    (selfservice_schemas.ChargedWithoutOrder, "details", {"payment_method": "mada", "card_last4": "1111"}),
    (selfservice_schemas.DelayedOrder, "details", {"order_id": "SO-1"}),
    (selfservice_schemas.ProductExchange, "details", {"order_id": "SO-1", "item": "Shoes", "reason": "damaged"}),
    (selfservice_schemas.ProductExchange, "preferred_replacement",
     {"order_id": "SO-1", "item": "Shoes", "reason": "damaged"}),
    (selfservice_schemas.CustomerDataChange, "details", {"changes": {"city": "Jeddah"}}),
    (selfservice_schemas.DataChangeReject, "reason", {}),
    (selfservice_schemas.CannedResponseCreate, "body", {"title": "Thanks"}),
])
def test_free_text_fields_mask_card_numbers_as_they_are_loaded(schema, field, body):
    loaded = schema().load({**body, field: f"my card {CARD} was charged"})
    assert loaded[field] == f"my card {MASKED} was charged"


def test_card_numbers_in_nested_free_text_are_masked_too():
    loaded = selfservice_schemas.CustomerDataChange().load({"changes": {"name": f"Ali {CARD}"}})
    assert loaded["changes"]["name"] == f"Ali {MASKED}"
    texts = selfservice_schemas.SelfServiceSettingsUpdate().load(
        {"texts": {"tracking_message": f"{CARD} {{tracking_url}}"}})
    assert texts["texts"]["tracking_message"] == f"{MASKED} {{tracking_url}}"


@pytest.mark.parametrize("schema, field, value", [
    (customers_schemas.CustomerCreate, "mobile", "00966501000006"),  # 14 digits, and Luhn-valid
    (tickets_schemas.TicketQuery, "cursor", "4111111111111111"),
    (orders_schemas.OrderItem, "sku", "4111111111111111"),
])
def test_codes_that_masking_would_break_are_not_masked(schema, field, value):
    base = {"CustomerCreate": {"name": "Ali"}, "OrderItem": {"name": "Shoes", "quantity": 1}}.get(schema.__name__, {})
    assert redact_card_numbers(value) != value  # it would be masked as free text
    assert schema().load({**base, field: value})[field] == value


# --- charged without an order number -------------------------------------------------------------

CHARGED = {"payment_method": "mada", "card_last4": "1234", "details": "Charged 250 SAR, no order number"}


def test_a_charge_report_is_accepted_as_sent():
    assert selfservice_schemas.ChargedWithoutOrder().load(CHARGED) == CHARGED


@pytest.mark.parametrize("method", selfservice_schemas.PAYMENT_METHODS)
def test_every_payment_method_is_accepted(method):
    loaded = selfservice_schemas.ChargedWithoutOrder().load({**CHARGED, "payment_method": method})
    assert loaded["payment_method"] == method


@pytest.mark.parametrize("field, value", [
    ("payment_method", "cod"), ("payment_method", "visa"), ("payment_method", None),
    ("card_last4", "123"), ("card_last4", "12345"), ("card_last4", "12a4"), ("card_last4", 1234),
    ("card_last4", "١٢٣٤"), ("card_last4", "1234\n"), ("details", ""), ("details", "d" * 5001), ("details", None),
])
def test_each_bad_field_of_a_charge_report_is_named(field, value):
    assert list(refused(selfservice_schemas.ChargedWithoutOrder, {**CHARGED, field: value})) == [field]


@pytest.mark.parametrize("missing", ["payment_method", "card_last4", "details"])
def test_a_charge_report_needs_every_field(missing):
    without = {k: v for k, v in CHARGED.items() if k != missing}
    assert list(refused(selfservice_schemas.ChargedWithoutOrder, without)) == [missing]


@pytest.mark.parametrize("typed", ["4111111111111111", CARD, "4111-1111-1111-1111"])
def test_a_whole_card_number_as_card_last4_is_refused_and_never_echoed(typed):
    refusal = bad_request(selfservice_schemas.ChargedWithoutOrder, {**CHARGED, "card_last4": typed})
    assert list(refusal.errors) == ["card_last4"]
    said = json.dumps({"detail": refusal.detail, "errors": refusal.errors}, ensure_ascii=False)
    assert "4111" not in said and "1111" not in said


# --- my order is late, product exchange ----------------------------------------------------------


def test_a_late_order_question_needs_only_the_order():
    assert selfservice_schemas.DelayedOrder().load({"order_id": "SO-1001"}) == {"order_id": "SO-1001"}
    full = {"order_id": "SO-1001", "details": "a week late", "open_ticket": True}
    assert selfservice_schemas.DelayedOrder().load(full) == full


@pytest.mark.parametrize("field, value", [
    ("order_id", "SO 1"), ("order_id", "o" * 101), ("order_id", ""), ("order_id", 1001),
    ("details", ""), ("details", "d" * 5001), ("open_ticket", "yes"), ("open_ticket", 1), ("status", "late"),
])
def test_each_bad_field_of_a_late_order_question_is_named(field, value):
    assert field in refused(selfservice_schemas.DelayedOrder, {"order_id": "SO-1001", field: value})


EXCHANGE = {"order_id": "SO-1001", "item": "SKU-42", "reason": "wrong_size"}


def test_an_exchange_request_is_accepted_with_or_without_its_optional_fields():
    assert selfservice_schemas.ProductExchange().load(EXCHANGE) == EXCHANGE
    full = {**EXCHANGE, "preferred_replacement": "size 43", "details": "too small"}
    assert selfservice_schemas.ProductExchange().load(full) == full


@pytest.mark.parametrize("reason", selfservice_schemas.EXCHANGE_REASONS)
def test_every_exchange_reason_is_accepted(reason):
    assert selfservice_schemas.ProductExchange().load({**EXCHANGE, "reason": reason})["reason"] == reason


@pytest.mark.parametrize("field, value", [
    ("order_id", "SO/1"), ("item", ""), ("item", "i" * 301), ("reason", "too_expensive"), ("reason", None),
    ("preferred_replacement", "p" * 301), ("details", "d" * 5001), ("quantity", 2),
])
def test_each_bad_field_of_an_exchange_request_is_named(field, value):
    assert field in refused(selfservice_schemas.ProductExchange, {**EXCHANGE, field: value})


@pytest.mark.parametrize("missing", ["order_id", "item", "reason"])
def test_an_exchange_request_needs_the_order_the_item_and_a_reason(missing):
    assert missing in refused(selfservice_schemas.ProductExchange, {k: v for k, v in EXCHANGE.items() if k != missing})


# --- customer data change ------------------------------------------------------------------------


@pytest.mark.parametrize("changes", [{"name": "Ali Saleh"}, {"email": "ali@example.test"},
                                     {"mobile": "0501234567"}, {"city": "Jeddah"},
                                     {"name": "Ali", "email": "a@example.test", "mobile": "+966501234567",
                                      "city": "Riyadh"}])
def test_a_data_change_names_any_of_the_four_fields(changes):
    assert selfservice_schemas.CustomerDataChange().load({"changes": changes, "details": "moved"}) == {
        "changes": changes, "details": "moved"}


def test_an_unknown_field_to_change_is_named_inside_changes():
    refusal = bad_request(selfservice_schemas.CustomerDataChange,
                          {"changes": {"city": "Jeddah", "birthday": "1990-01-01"}})
    assert list(refusal.errors) == ["changes.birthday"]


@pytest.mark.parametrize("body", [{}, {"changes": {}}, {"changes": None}, {"changes": "city=Jeddah"}])
def test_a_data_change_must_change_something(body):
    errors = bad_request(selfservice_schemas.CustomerDataChange, body).errors
    assert len(errors) == 1 and list(errors)[0].split(".")[0] == "changes"


@pytest.mark.parametrize("field, value", [("name", "n" * 201), ("email", 5), ("city", ""), ("mobile", None)])
def test_each_bad_value_to_change_is_named(field, value):
    refusal = bad_request(selfservice_schemas.CustomerDataChange, {"changes": {field: value}})
    assert list(refusal.errors) == [f"changes.{field}"]


def test_a_rejection_needs_a_reason():
    assert selfservice_schemas.DataChangeReject().load({"reason": "not your number"}) == {"reason": "not your number"}
    assert "reason" in refused(selfservice_schemas.DataChangeReject, {})
    assert "reason" in refused(selfservice_schemas.DataChangeReject, {"reason": "r" * 2001})


# --- settings ------------------------------------------------------------------------------------


def test_settings_change_any_field_and_texts_key_by_key():
    body = {"enabled": True, "allow_attachments": False, "default_reply_template_id": CANNED,
            "tracking_url_template": "https://track.example.test/{order_id}",
            "texts": {"ticket_opened_message": "Ticket {ticket_number} opened"}}
    assert selfservice_schemas.SelfServiceSettingsUpdate().load(body) == body
    assert selfservice_schemas.SelfServiceSettingsUpdate().load(
        {"default_reply_template_id": None, "tracking_url_template": None})


@pytest.mark.parametrize("body, named", [
    ({}, "_schema"), ({"enabled": "true"}, "enabled"), ({"allow_attachments": 0}, "allow_attachments"),
    ({"default_reply_template_id": "thanks"}, "default_reply_template_id"),
    ({"tracking_url_template": "t" * 2001}, "tracking_url_template"),
    ({"texts": {"greeting": "hi"}}, "texts.greeting"), ({"texts": {"tracking_message": ""}}, "texts.tracking_message"),
    ({"enabled": None}, "enabled"), ({"version": 3}, "version"),
])
def test_each_bad_setting_is_named(body, named):
    assert list(bad_request(selfservice_schemas.SelfServiceSettingsUpdate, body).errors) == [named]


# --- canned responses ----------------------------------------------------------------------------


def test_a_canned_response_needs_a_title_and_a_body():
    body = {"title": "Thanks", "body": "Thank you {customer_name}, {agent_name} from {store_name}"}
    assert selfservice_schemas.CannedResponseCreate().load(body) == body
    assert set(refused(selfservice_schemas.CannedResponseCreate, {})) == {"title", "body"}


@pytest.mark.parametrize("field, value", [("title", "t" * 101), ("title", ""), ("body", "b" * 5001), ("body", 3),
                                          ("id", CANNED)])
def test_each_bad_field_of_a_canned_response_is_named(field, value):
    assert field in refused(selfservice_schemas.CannedResponseCreate,
                            {"title": "Thanks", "body": "Thank you", field: value})


def test_a_canned_response_change_names_at_least_one_field():
    assert selfservice_schemas.CannedResponseUpdate().load({"title": "New"}) == {"title": "New"}
    assert selfservice_schemas.CannedResponseUpdate().load({"body": "New"}) == {"body": "New"}
    assert list(refused(selfservice_schemas.CannedResponseUpdate, {})) == ["_schema"]
    assert "title" in refused(selfservice_schemas.CannedResponseUpdate, {"title": "t" * 101})


# --- replies and notes ---------------------------------------------------------------------------

LINK = {"filename": "receipt.pdf", "url": "https://files.example.test/receipt.pdf"}


@pytest.mark.parametrize("body", [
    {"body": "hello"},
    {"attachments": [{"id": UPLOADED}]},
    {"canned_response_id": CANNED},
    {"canned_response_id": CANNED, "note": "called them too"},
    {"body": "see both", "attachments": [{"id": UPLOADED}, LINK]},
])
def test_a_reply_is_a_body_a_canned_response_or_attachments(body):
    assert tickets_schemas.MessageCreate().load(body) == body


def test_an_empty_body_is_no_body_when_a_file_is_attached():
    assert tickets_schemas.MessageCreate().load({"body": "", "attachments": [{"id": UPLOADED}]}) == {
        "attachments": [{"id": UPLOADED}]}


@pytest.mark.parametrize("body", [{}, {"body": ""}, {"attachments": []}, {"note": "only a note"}])
def test_a_reply_with_nothing_to_send_is_refused(body):
    assert "body" in bad_request(tickets_schemas.MessageCreate, body).errors


def test_a_body_and_a_canned_response_together_are_refused_naming_them():
    errors = bad_request(tickets_schemas.MessageCreate, {"body": "hi", "canned_response_id": CANNED}).errors
    assert set(errors) == {"body", "canned_response_id"}


@pytest.mark.parametrize("body, named", [
    ({"canned_response_id": "thanks"}, "canned_response_id"),
    ({"body": "hi", "note": ""}, "note"),
    ({"body": "hi", "note": "n" * 10001}, "note"),
    ({"body": "b" * 10001}, "body"),
    ({"attachments": [{"id": "not-a-uuid"}]}, "attachments.0.id"),
    ({"attachments": [{"id": UPLOADED, "url": "https://x.test/a"}]}, "attachments.0.url"),
    ({"attachments": [LINK, {"filename": "x"}]}, "attachments.1.url"),
    ({"attachments": [UPLOADED]}, "attachments.0"),
    ({"attachments": [{"id": UPLOADED}] * 11}, "attachments"),
])
def test_each_bad_reply_field_is_named(body, named):
    assert named in bad_request(tickets_schemas.MessageCreate, body).errors


@pytest.mark.parametrize("field, value", [("canned_response_id", CANNED), ("note", "n")])
def test_a_note_takes_no_canned_response_or_note(field, value):
    assert list(bad_request(tickets_schemas.NoteCreate, {"body": "internal", field: value}).errors) == [field]


def test_a_note_may_carry_uploaded_files_and_links():
    body = {"body": "internal", "attachments": [{"id": UPLOADED}, LINK]}
    assert tickets_schemas.NoteCreate().load(body) == body


# --- the platform's ticket list ------------------------------------------------------------------


def test_the_platform_list_takes_the_ticket_filters_and_a_store():
    assert selfservice_schemas.PlatformTicketQuery().load({"store_id": STORE, "status": "open"}) == {
        "store_id": STORE, "status": "open", "sort": "-created", "limit": 25}
    assert "store_id" in refused(selfservice_schemas.PlatformTicketQuery, {"store_id": "a store"})


# --- the routes, against fakes of what lies behind the gateway -----------------------------------


class FakeIdentity(gateway_fakes.FakeIdentity):
    def get_store(self, principal, store_id):
        assert store_id == principal.store_id
        return {"id": store_id, "name": "Corner Shop", "created_at": "2026-01-01T00:00:00Z"}

    def get_agent(self, principal, agent_id):
        return {"id": agent_id, "store_id": principal.store_id, "name": "Sara", "role": principal.role}


class FakeCustomers(Recorder):
    blocked = {ALI: False, BLOCKED: True}

    def _standing(self, store_id, customer_id):
        return {"customer_id": customer_id, "blocked": self.blocked[customer_id]}

    def _get_order(self, caller, order_id):
        if order_id == "SO-404":
            raise NotFound("order_not_found", f"no order {order_id}")
        owner = BLOCKED if order_id == "SO-OTHER" else ALI
        return {"id": order_id, "customer_id": owner, "status": "delivering", "created_at": "2026-01-01T00:00:00Z"}

    def _update(self, caller, customer_id, fields):
        if fields.get("mobile") == "+966500000000":
            raise Conflict("mobile_taken", "another customer has this mobile", {"mobile": ["taken"]})
        return {"status": 200, "customer": {"id": customer_id, "version": 7}}


def ticket(version=2, **fields):
    return {"id": TICKET, "number": 12, "version": version, **fields}


class FakeTickets(Recorder):
    refuse_register = False

    def _self_service_settings(self, caller):
        return {"enabled": True, "version": 4}

    def _update_self_service_settings(self, caller, fields, expected_version):
        return {"enabled": True, **fields, "version": 5}

    def _charged_without_order(self, caller, fields, idempotency, standing=None):
        return {"status": 201, "outcome": "ticket_opened", "ticket": ticket(1), "message": "we will call",
                "expected_contact_by": "2026-01-04T00:00:00Z"}

    def _delayed_order(self, caller, order, fields, idempotency, standing=None):
        if fields.get("open_ticket"):
            return {"status": 201, "outcome": "ticket_opened", "ticket": ticket(1), "message": "opened"}
        return {"status": 200, "outcome": "track_order", "tracking_url": "https://t.test/1", "message": "track it",
                "replayed": True}

    def _product_exchange(self, caller, order, fields, idempotency, standing=None):
        return {"status": 201, "outcome": "ticket_opened", "ticket": ticket(1), "message": "opened"}

    def _customer_data_change(self, caller, fields, idempotency, standing=None):
        return {"status": 201, "outcome": "ticket_opened", "ticket": ticket(1), "message": "opened"}

    def _pending_data_change(self, caller, ticket_id):
        mobile = "+966500000000" if ticket_id == TICKET.replace("5f", "6f", 1) else "+966511111111"
        return {"ticket_id": ticket_id, "customer_id": ALI, "fields": {"mobile": mobile}, "version": 3}

    def _execute(self, caller, ticket_id, steps, expected_version, idempotency):
        return {"status": 200, "ticket": ticket(4)}

    def _list_canned(self, caller):
        return {"items": []}

    def _create_canned(self, caller, fields, idempotency):
        return {"status": 201, "canned_response": {"id": CANNED, **fields, "version": 1}}

    def _get_canned(self, caller, canned_id):
        return {"id": canned_id, "title": "Thanks", "body": "Thank you", "version": 2}

    def _update_canned(self, caller, canned_id, fields, expected_version):
        return {"id": canned_id, "title": "Thanks", "body": "Thank you", **fields, "version": 3}

    def _register_attachment(self, caller, ticket_id, described):
        if self.refuse_register:
            raise Conflict("attachments_disabled", "the store takes no files from shoppers")
        return {"id": UPLOADED, **described, "url": f"/v1/tickets/{ticket_id}/attachments/{UPLOADED}"}

    def _attachment(self, caller, ticket_id, attachment_id):
        return {"id": attachment_id, "filename": "إيصال.pdf", "content_type": "application/pdf", "size": 9,
                "sha256": SHA}

    def _list(self, caller, query):
        return {"items": [], "next_cursor": None}


class FakePending:
    def __init__(self):
        self.state = "pending"

    def commit(self):
        self.state = "committed"
        return SHA

    def discard(self):
        self.state = "discarded"


class FakeFiles:
    def __init__(self):
        self.upload = Upload(f"receipt {CARD}.pdf", "application/pdf", 9, SHA, FakePending())
        self.missing = False

    def receive(self, request):
        return self.upload

    def chunks(self, sha256):
        if self.missing:
            raise BlobNotFound(sha256)
        return iter([b"%PDF-", b"1.7\n"])


@pytest.fixture
def gateway():
    return gateway_with(identity=FakeIdentity(), customers=FakeCustomers(),
                          tickets=FakeTickets(), files=FakeFiles())


def caller(token: str) -> dict:
    return FakeIdentity.PRINCIPALS[token]


# Settings

def test_settings_answer_with_their_version_as_etag(gateway):
    response = gateway.self_service_settings(request("GET", token="agent"))
    assert response.status_code == 200 and response.headers["ETag"] == '"4"'


def test_a_settings_change_sends_if_match_as_the_expected_version(gateway):
    response = gateway.update_self_service_settings(request("PATCH", body={"enabled": False}, token="admin",
                                                            headers={"If-Match": '"4"'}))
    assert response.headers["ETag"] == '"5"' and json_of(response)["enabled"] is False
    assert gateway.tickets.calls == [("update_self_service_settings", caller("admin"), {"enabled": False}, 4)]


def test_only_owners_and_admins_change_settings(gateway):
    with pytest.raises(Forbidden):
        gateway.update_self_service_settings(request("PATCH", body={"enabled": True}, token="agent"))


# The flows

def test_a_charge_report_opens_a_ticket_answered_with_201_and_its_location(gateway):
    response = gateway.charged_without_order(request(body=CHARGED, token="ali", headers={"Idempotency-Key": "k1"}))
    assert response.status_code == 201
    assert response.headers["Location"] == f"/v1/tickets/{TICKET}"
    assert json_of(response) == {"outcome": "ticket_opened", "ticket": ticket(1), "message": "we will call",
                                 "expected_contact_by": "2026-01-04T00:00:00Z"}
    (name, sent_caller, body, key, sent), = gateway.tickets.calls
    assert (name, sent_caller, body, key[0]) == ("charged_without_order", caller("ali"), CHARGED, "k1")
    assert sent == {"standing": {"customer_id": ALI, "blocked": False}}
    assert gateway.customers.calls == [("standing", STORE, ALI)]


@pytest.mark.parametrize("route, body", [
    ("charged_without_order", CHARGED), ("delayed_order", {"order_id": "SO-1"}),
    ("product_exchange", EXCHANGE), ("customer_data_change", {"changes": {"city": "Jeddah"}}),
])
def test_every_flow_is_one_call_to_the_tickets_service_with_the_shoppers_standing(gateway, route, body):
    # The tickets service decides, in the flow's transaction: the store's switch
    # first (409), then the standing (403 for a blocked shopper), then the order.
    getattr(gateway, route)(request(body=body, token="blocked"))
    (call,) = gateway.tickets.calls
    assert call[0] == route and call[-1] == {"standing": {"customer_id": BLOCKED, "blocked": True}}


@pytest.mark.parametrize("route, body", [
    ("charged_without_order", CHARGED), ("delayed_order", {"order_id": "SO-1"}),
    ("product_exchange", EXCHANGE), ("customer_data_change", {"changes": {"city": "Jeddah"}}),
])
def test_only_shoppers_use_the_flows(gateway, route, body):
    for token in ("owner", "agent", "platform"):
        with pytest.raises(Forbidden):
            getattr(gateway, route)(request(body=body, token=token))


def test_a_late_order_is_fetched_and_passed_to_the_tickets_service(gateway):
    response = gateway.delayed_order(request(body={"order_id": "SO-1"}, token="ali"))
    assert response.status_code == 200 and "Location" not in response.headers
    assert response.headers["Idempotent-Replayed"] == "true"
    assert json_of(response) == {"outcome": "track_order", "tracking_url": "https://t.test/1", "message": "track it"}
    name, sent_caller, order, body, key, _ = gateway.tickets.calls[0]
    assert (name, order["id"], body, key) == ("delayed_order", "SO-1", {"order_id": "SO-1"}, None)
    # The standing and the order are asked at once.
    assert gateway.customers.calls == [("standing", STORE, ALI), ("get_order", caller("ali"), "SO-1")]


def test_a_late_order_that_opens_a_ticket_is_a_201(gateway):
    response = gateway.delayed_order(request(body={"order_id": "SO-1", "open_ticket": True}, token="ali"))
    assert response.status_code == 201 and response.headers["Location"] == f"/v1/tickets/{TICKET}"


@pytest.mark.parametrize("route, body", [("delayed_order", {"order_id": "SO-404"}),
                                         ("product_exchange", {**EXCHANGE, "order_id": "SO-404"})])
def test_an_order_the_customers_service_does_not_know_goes_as_none(gateway, route, body):
    # The tickets service answers it as not found once the store's switch and
    # the shopper's standing allow the flow (a disabled store says so first).
    getattr(gateway, route)(request(body=body, token="ali"))
    (call,) = gateway.tickets.calls
    assert call[0] == route and call[2] is None


def test_another_shoppers_order_goes_as_it_is_for_the_tickets_service_to_refuse(gateway):
    gateway.delayed_order(request(body={"order_id": "SO-OTHER"}, token="ali"))
    assert gateway.tickets.calls[0][2]["customer_id"] == BLOCKED


def test_the_customers_service_failing_is_not_an_unknown_order(gateway):
    gateway.customers._get_order = lambda caller, order_id: (_ for _ in ()).throw(Conflict("busy", "try later"))
    with pytest.raises(Conflict):
        gateway.delayed_order(request(body={"order_id": "SO-1"}, token="ali"))
    assert gateway.tickets.calls == []


def test_an_exchange_passes_the_shoppers_order(gateway):
    response = gateway.product_exchange(request(body=EXCHANGE, token="ali"))
    assert response.status_code == 201
    assert gateway.tickets.calls[0][0] == "product_exchange" and gateway.tickets.calls[0][2]["id"] == "SO-1001"


def test_a_data_change_request_goes_to_the_tickets_service(gateway):
    body = {"changes": {"mobile": "0501234567"}, "details": "new number"}
    assert gateway.customer_data_change(request(body=body, token="ali")).status_code == 201
    assert gateway.tickets.calls == [("customer_data_change", caller("ali"), body, None,
                                      {"standing": {"customer_id": ALI, "blocked": False}})]


# The data-change decision

def test_approving_applies_the_fields_then_records_the_customer_version(gateway):
    response = gateway.approve_data_change(request(token="agent", headers={"If-Match": '"3"'}), TICKET)
    assert response.status_code == 200 and response.headers["ETag"] == '"4"'
    assert gateway.customers.calls == [("update", caller("agent"), ALI, {"mobile": "+966511111111"})]
    assert gateway.tickets.calls[-1] == ("execute", caller("agent"), TICKET,
                                         [["approve_data_change", {"customer_version": 7}]], 3, None)


def test_a_stale_approval_changes_no_card(gateway):
    with pytest.raises(PreconditionFailed) as info:
        gateway.approve_data_change(request(token="agent", headers={"If-Match": '"2"'}), TICKET)
    assert info.value.errors == {"If-Match": ["current version is 3"]}
    assert gateway.customers.calls == []


def test_a_refusal_by_the_customers_service_leaves_the_ticket_pending(gateway):
    taken = TICKET.replace("5f", "6f", 1)
    with pytest.raises(Conflict) as info:
        gateway.approve_data_change(request(token="agent"), taken)
    assert info.value.code == "mobile_taken"
    assert gateway.tickets.names() == ["pending_data_change"]


def test_rejecting_records_the_reason(gateway):
    gateway.reject_data_change(request(body={"reason": "not verified"}, token="agent"), TICKET)
    assert gateway.tickets.calls == [("execute", caller("agent"), TICKET,
                                      [["reject_data_change", {"reason": "not verified"}]], None, None)]


@pytest.mark.parametrize("route", ["approve_data_change", "reject_data_change"])
def test_shoppers_do_not_decide_data_changes(gateway, route):
    with pytest.raises(Forbidden):
        getattr(gateway, route)(request(body={"reason": "x"}, token="ali"), TICKET)


# Canned responses

def test_creating_a_canned_response_answers_201_with_location(gateway):
    response = gateway.create_canned(request(body={"title": "Thanks", "body": "Thank you"}, token="admin"))
    assert response.status_code == 201
    assert response.headers["Location"] == f"/v1/canned-responses/{CANNED}"
    assert response.headers["ETag"] == '"1"'


def test_changing_a_canned_response_sends_if_match(gateway):
    response = gateway.update_canned(request("PATCH", body={"title": "New"}, token="owner",
                                             headers={"If-Match": '"2"'}), CANNED)
    assert json_of(response)["title"] == "New" and response.headers["ETag"] == '"3"'
    assert gateway.tickets.calls == [("update_canned", caller("owner"), CANNED, {"title": "New"}, 2)]


def test_deleting_a_canned_response_answers_204(gateway):
    response = gateway.delete_canned(request("DELETE", token="admin"), CANNED)
    assert response.status_code == 204 and response.get_data() == b""


@pytest.mark.parametrize("route", ["get_canned", "update_canned", "delete_canned"])
def test_a_canned_response_id_that_cannot_name_one_is_a_404(gateway, route):
    with pytest.raises(NotFound) as info:
        getattr(gateway, route)(request(body={"title": "x"}, token="owner"), "thanks")
    assert info.value.code == "canned_response_not_found"
    assert gateway.tickets.calls == []


@pytest.mark.parametrize("route, args", [("create_canned", ()), ("update_canned", (CANNED,)),
                                         ("delete_canned", (CANNED,))])
def test_agents_read_but_do_not_change_canned_responses(gateway, route, args):
    gateway.list_canned(request("GET", token="agent"))
    with pytest.raises(Forbidden):
        getattr(gateway, route)(request(body={"title": "x", "body": "y"}, token="agent"), *args)


# Replies with canned responses and notes

def test_a_canned_reply_carries_the_store_and_agent_names_and_its_note(gateway):
    body = {"canned_response_id": CANNED, "note": "called them too"}
    gateway.reply(request(body=body, token="agent"), TICKET)
    (_, _, _, steps, _, _), = gateway.tickets.calls
    # One step: the tickets service records the note right after the reply.
    assert steps == [["reply", {"canned_response_id": CANNED, "note": "called them too",
                                "context": {"store_name": "Corner Shop", "agent_name": "Sara"}}]]


def test_a_shoppers_reply_is_the_body_and_the_files(gateway):
    body = {"body": "", "attachments": [{"id": UPLOADED}]}
    gateway.reply(request(body=body, token="ali"), TICKET)
    assert gateway.tickets.calls[0][3] == [["reply", {"attachments": [{"id": UPLOADED}]}]]


@pytest.mark.parametrize("token", ["ali", "platform"])
def test_a_canned_response_from_anyone_but_staff_goes_as_sent_without_the_staffs_names(gateway, token):
    # The tickets domain refuses it (field_not_allowed); the gateway looks up no agent for it.
    gateway.reply(request(body={"canned_response_id": CANNED, "note": "psst"}, token=token), TICKET)
    (_, _, _, steps, _, _), = gateway.tickets.calls
    assert steps == [["reply", {"canned_response_id": CANNED, "note": "psst"}]]


def test_the_platform_replies_and_adds_notes(gateway):
    gateway.reply(request(body={"body": "we refunded you", "note": "bank ref 42"}, token="platform"), TICKET)
    gateway.note(request(body={"body": "checked"}, token="platform"), TICKET)
    assert gateway.tickets.names() == ["execute", "execute"]


@pytest.mark.parametrize("route, args", [("get_ticket", (TICKET,)), ("ticket_history", (TICKET,)),
                                         ("change_status", (TICKET,)), ("list_platform_tickets", ())])
def test_the_platform_reaches_the_ticket_routes_it_reviews_with(gateway, route, args):
    gateway.tickets._get = lambda *a: ticket()
    gateway.tickets._history = lambda *a: []
    getattr(gateway, route)(request(body={"status": "solved"}, token="platform"), *args)
    assert gateway.tickets.calls[0][1] == PLATFORM


def test_the_platform_list_splits_statuses_and_passes_the_store(gateway):
    gateway.list_platform_tickets(request("GET", path=f"/v1/platform/tickets?status=open,pending&store_id={STORE}",
                                          token="platform"))
    (_, _, query), = gateway.tickets.calls
    assert query["status"] == ["open", "pending"] and query["priority"] == [] and query["store_id"] == STORE
    with pytest.raises(Forbidden):
        gateway.list_platform_tickets(request("GET", token="owner"))


# Attachments

def test_an_upload_is_committed_after_the_tickets_service_records_it(gateway):
    response = gateway.upload_attachment(request(token="ali"), TICKET)
    assert response.status_code == 201
    assert response.headers["Location"] == f"/v1/tickets/{TICKET}/attachments/{UPLOADED}"
    (name, _, ticket_id, described), = gateway.tickets.calls
    assert (name, ticket_id) == ("register_attachment", TICKET)
    assert described == {"filename": f"receipt {MASKED}.pdf", "content_type": "application/pdf", "size": 9,
                         "sha256": SHA}
    assert gateway.files.upload.pending.state == "committed"


def test_an_upload_the_tickets_service_refuses_is_discarded(gateway):
    gateway.tickets.refuse_register = True
    with pytest.raises(Conflict):
        gateway.upload_attachment(request(token="ali"), TICKET)
    assert gateway.files.upload.pending.state == "discarded"


def test_an_upload_to_an_id_that_cannot_name_a_ticket_reads_nothing(gateway):
    gateway.files.receive = None  # would fail if called
    with pytest.raises(NotFound):
        gateway.upload_attachment(request(token="ali"), "t1")


def test_a_download_streams_the_file_with_safe_headers(gateway):
    response = gateway.download_attachment(request("GET", token="agent"), TICKET, UPLOADED)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Length"] == "9"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]
    assert b"".join(response.response) == b"%PDF-1.7\n"


def test_a_download_whose_bytes_are_gone_is_a_404(gateway):
    gateway.files.missing = True
    with pytest.raises(NotFound) as info:
        gateway.download_attachment(request("GET", token="agent"), TICKET, UPLOADED)
    assert info.value.code == "attachment_not_found"


def test_an_attachment_id_that_cannot_name_one_is_a_404(gateway):
    with pytest.raises(NotFound) as info:
        gateway.download_attachment(request("GET", token="agent"), TICKET, "receipt.pdf")
    assert info.value.code == "attachment_not_found"


# --- the OpenAPI document ------------------------------------------------------------------------


NEW_ROUTES = [
    ("GET", "/v1/settings/self-service", STAFF, "self-service"),
    ("PATCH", "/v1/settings/self-service", ADMIN, "self-service"),
    ("POST", "/v1/self-service/charged-without-order", CUSTOMER, "self-service"),
    ("POST", "/v1/self-service/delayed-order", CUSTOMER, "self-service"),
    ("POST", "/v1/self-service/product-exchange", CUSTOMER, "self-service"),
    ("POST", "/v1/self-service/customer-data-change", CUSTOMER, "self-service"),
    ("POST", "/v1/tickets/<ticket_id>/data-change/approve", STAFF, "self-service"),
    ("POST", "/v1/tickets/<ticket_id>/data-change/reject", STAFF, "self-service"),
    ("GET", "/v1/canned-responses", STAFF, "canned-responses"),
    ("POST", "/v1/canned-responses", ADMIN, "canned-responses"),
    ("GET", "/v1/canned-responses/<canned_id>", STAFF, "canned-responses"),
    ("PATCH", "/v1/canned-responses/<canned_id>", ADMIN, "canned-responses"),
    ("DELETE", "/v1/canned-responses/<canned_id>", ADMIN, "canned-responses"),
    ("POST", "/v1/tickets/<ticket_id>/attachments", ANYONE_IN_STORE + ("platform",), "attachments"),
    ("GET", "/v1/tickets/<ticket_id>/attachments/<attachment_id>", ANYONE_IN_STORE + ("platform",), "attachments"),
    ("GET", "/v1/platform/tickets", ("platform",), "platform"),
]


@pytest.mark.parametrize("method, rule, roles, tag", NEW_ROUTES, ids=[f"{m} {r}" for m, r, _, _ in NEW_ROUTES])
def test_every_new_route_is_in_the_document_with_its_roles(method, rule, roles, tag):
    docs = {(d.method, d.rule): d for d in routes(GatewayService)}
    assert docs[(method, rule)].roles == roles
    operation = openapi_document(GatewayService)["paths"][openapi_path(rule)][method.lower()]
    assert operation["description"] == f"Allowed: {', '.join(roles)}."
    assert operation["tags"] == [tag]


@pytest.mark.parametrize("method, rule", [("GET", "/v1/tickets/<ticket_id>"),
                                          ("GET", "/v1/tickets/<ticket_id>/history"),
                                          ("POST", "/v1/tickets/<ticket_id>/replies"),
                                          ("POST", "/v1/tickets/<ticket_id>/notes"),
                                          ("POST", "/v1/tickets/<ticket_id>/status")])
def test_the_platform_may_use_the_ticket_routes_it_reviews_with(method, rule):
    docs = {(d.method, d.rule): d for d in routes(GatewayService)}
    assert "platform" in docs[(method, rule)].roles


def test_the_upload_is_documented_as_multipart_and_the_download_as_bytes():
    paths = openapi_document(GatewayService)["paths"]
    upload = paths["/v1/tickets/{ticket_id}/attachments"]["post"]
    assert set(upload["requestBody"]["content"]) == {"multipart/form-data"}
    assert {"413", "415"} <= set(upload["responses"])
    download = paths["/v1/tickets/{ticket_id}/attachments/{attachment_id}"]["get"]
    content = download["responses"]["200"]["content"]
    assert set(content) == set(ALLOWED_TYPES)  # the file with the type its first bytes showed
    assert {c["schema"]["format"] for c in content.values()} == {"binary"}


def test_a_message_attachment_is_documented_as_an_upload_or_a_link():
    components = openapi_document(GatewayService)["components"]["schemas"]
    items = components["MessageCreate"]["properties"]["attachments"]["items"]
    assert items == {"oneOf": [{"$ref": "#/components/schemas/UploadedAttachment"},
                               {"$ref": "#/components/schemas/Attachment"}]}
    assert components["UploadedAttachment"]["required"] == ["id"]
