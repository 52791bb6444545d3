"""The gateway's side of notifications (docs/notifications.md): settings,
webhook endpoints, the delivery log, shoppers' opt-outs and template
overrides. The routes run against hand-written fakes of the services behind
the gateway; what each route asks the notifications service is recorded."""
from __future__ import annotations

import pytest

from seedwork.errors import Forbidden, NotFound, Unauthenticated
from services.gateway.http import BadRequest
from services.gateway.routes.notifications import NotificationRoutes
from services.gateway.openapi import openapi_document, openapi_path
from services.gateway.routing import routes
from services.gateway.routing import ADMIN, CUSTOMER, STAFF
from services.gateway.service import GatewayService
from services.gateway.schemas import fields as fields_schemas
from services.gateway.schemas import notifications as notifications_schemas
from tests.unit.gateway.fakes import gateway_with, ALI, STORE, FakeIdentity, Recorder, json_of, request

STRANGER = "0b6e0c55-8a4f-4c43-9d55-1c2f6f7d0a09"  # a UUID no customer of the store has
HOOK = "2f9d1c7b-6a5e-4d3c-9b2a-1f0e9d8c7b6a"
DELIVERY = "6c5b4a39-2817-4f6e-8d5c-4b3a29181706"
EVENT = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
TICKET = "5f0c7a3e-2b1d-4c8e-9a6f-3d2e1c0b9a87"
CARD_DIGITS = "4111111111111111"  # Luhn-valid: free text would mask it
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


# --- fakes of what lies behind the gateway -----------------------------------------------------


class FakeCustomers(Recorder):
    def _standing(self, store_id, customer_id):
        if customer_id != ALI:
            raise NotFound("customer_not_found", f"no customer {customer_id}")
        return {"customer_id": customer_id, "blocked": False}


def webhook(**fields):
    return {"id": HOOK, "url": "https://hooks.example.test/in", "events": ["ticket.*"], "active": True,
            "status": "active", "created_at": "2026-01-01T00:00:00Z", **fields}


def delivery(**fields):
    return {"id": DELIVERY, "event_id": EVENT, "event_type": "ticket.opened", "status": "pending", "attempts": 0,
            **fields}


SETTINGS = {"support_email": "help@shop.test", "locale": "ar", "brand_color": None, "logo_url": None,
            "self_service_channel": "email", "email_quota_per_hour": 500, "sms_quota_per_hour": 100}


class FakeNotifications(Recorder):
    replay = False

    def _settings(self, caller):
        return SETTINGS

    def _update_settings(self, caller, fields):
        return {**SETTINGS, **fields}

    def _create_webhook(self, caller, fields, idempotency):
        return {"status": 201, "webhook": webhook(**fields, secret=SECRET),
                **({"replayed": True} if self.replay else {})}

    def _list_webhooks(self, caller):
        return {"items": [webhook()]}

    def _get_webhook(self, caller, webhook_id):
        return webhook()

    def _update_webhook(self, caller, webhook_id, fields):
        return webhook(**fields)

    def _rotate_secret(self, caller, webhook_id, fields):
        return {"id": webhook_id, "secret": SECRET, "previous_secret_expires_at": "2026-01-02T00:00:00Z"}

    def _webhook_deliveries(self, caller, webhook_id, query):
        return {"items": [delivery(attempts_log=[])], "next_cursor": None}

    def _redeliver(self, caller, webhook_id, event_id):
        return {"status": 202, "delivery": delivery(event_id=event_id)}

    def _deliveries(self, caller, query):
        return {"items": [delivery(channel="sms", recipient="•••••••4567")], "next_cursor": "c2"}

    def _retry(self, caller, delivery_id):
        return delivery(id=delivery_id, status="pending")

    def _get_preferences(self, caller, customer_id):
        return {"customer_id": customer_id, "email": True, "sms": True}

    def _set_preferences(self, caller, customer_id, fields):
        return {"customer_id": customer_id, "email": True, "sms": True, **fields}

    def _templates(self, caller):
        return {"kinds": [{"kind": "ticket_opened", "locales": ["ar", "en"], "variables": ["store", "ticket"]}],
                "overrides": []}

    def _put_template(self, caller, kind, locale, fields):
        return {"kind": kind, "locale": locale, **fields}


@pytest.fixture
def gateway():
    return gateway_with(identity=FakeIdentity(), customers=FakeCustomers(),
                          notifications=FakeNotifications())


def caller(token: str) -> dict:
    return FakeIdentity.PRINCIPALS[token]


def refusal(gateway, route, *args, **sent) -> BadRequest:
    """The 400 a route answers for a bad body or query; nothing reached the service."""
    with pytest.raises(BadRequest) as info:
        getattr(gateway, route)(request(**sent), *args)
    assert gateway.notifications.calls == []
    return info.value


def test_the_routes_are_a_mixin_of_the_gateway():
    assert issubclass(GatewayService, NotificationRoutes)


# --- settings ----------------------------------------------------------------------------------


def test_staff_read_the_notification_settings(gateway):
    response = gateway.notification_settings(request("GET", token="agent"))
    assert response.status_code == 200 and json_of(response) == SETTINGS
    assert gateway.notifications.calls == [("settings", caller("agent"))]


def test_an_admin_changes_the_settings_sent(gateway):
    body = {"locale": "en", "brand_color": "#0A7cff", "email_quota_per_hour": 0}
    response = gateway.update_notification_settings(request("PATCH", body=body, token="admin"))
    assert response.status_code == 200 and json_of(response)["locale"] == "en"
    assert gateway.notifications.calls == [("update_settings", caller("admin"), body)]


def test_every_setting_is_accepted():
    body = {"support_email": "help@shop.test", "locale": "ar", "brand_color": "#ffffff",
            "logo_url": "https://cdn.shop.test/logo.png", "self_service_channel": "sms",
            "email_quota_per_hour": 100_000, "sms_quota_per_hour": 0}
    assert notifications_schemas.NotificationSettingsUpdate().load(body) == body


def test_null_puts_the_address_the_colour_and_the_logo_back_to_their_defaults():
    body = {"support_email": None, "brand_color": None, "logo_url": None}
    assert notifications_schemas.NotificationSettingsUpdate().load(body) == body


def test_urls_and_addresses_in_settings_are_not_masked_as_card_numbers():
    body = {"logo_url": f"https://cdn.shop.test/{CARD_DIGITS}.png", "support_email": f"{CARD_DIGITS}@shop.test"}
    assert notifications_schemas.NotificationSettingsUpdate().load(body) == body


@pytest.mark.parametrize("field, value", [
    ("support_email", "not-an-address"), ("support_email", "a@" + "b" * 250 + ".test"), ("locale", None),
    ("support_email", "ü@shop.test"),  # not every mail server takes a non-ASCII address
    ("logo_url", 'https://cdn.shop.test/logo".png'), ("logo_url", "https://cdn.shop.test/<logo>.png"),
    ("locale", "fr"), ("locale", "AR"),
    ("brand_color", "red"), ("brand_color", "#12345"), ("brand_color", "#1234567"), ("brand_color", "#12345g"),
    ("brand_color", "#123456\n"),
    ("logo_url", "http://cdn.shop.test/logo.png"), ("logo_url", "ftp://cdn.shop.test/logo.png"),
    ("logo_url", "https://cdn.shop.test/" + "l" * 2000), ("logo_url", "https://cdn.shop.test/\x00.png"),
    ("self_service_channel", "webhook"),
    ("email_quota_per_hour", -1), ("email_quota_per_hour", 100_001), ("email_quota_per_hour", "5"),
    ("email_quota_per_hour", True), ("email_quota_per_hour", 1.5), ("sms_quota_per_hour", -1),
    ("sms_quota_per_hour", None), ("webhook_url", "https://x.test"),
])
def test_each_bad_setting_is_named(gateway, field, value):
    error = refusal(gateway, "update_notification_settings", method="PATCH", body={field: value}, token="admin")
    assert list(error.errors) == [field]


def test_a_settings_change_must_change_something(gateway):
    assert list(refusal(gateway, "update_notification_settings", method="PATCH", body={}).errors) == ["_schema"]


@pytest.mark.parametrize("token", ["agent", "ali", "platform"])
def test_only_owners_and_admins_change_the_settings(gateway, token):
    with pytest.raises(Forbidden):
        gateway.update_notification_settings(request("PATCH", body={"locale": "en"}, token=token))
    assert gateway.notifications.calls == []


@pytest.mark.parametrize("token", ["ali", "platform"])
def test_only_staff_read_the_settings(gateway, token):
    with pytest.raises(Forbidden):
        gateway.notification_settings(request("GET", token=token))


# --- webhooks ----------------------------------------------------------------------------------

HOOK_BODY = {"url": "https://hooks.example.test/in", "events": ["ticket.*", "customer.created"]}


def test_registering_a_webhook_answers_201_with_its_location_and_the_secret_once(gateway):
    response = gateway.create_webhook(request(body=HOOK_BODY, headers={"Idempotency-Key": "h1"}))
    assert response.status_code == 201
    assert response.headers["Location"] == f"/v1/webhooks/{HOOK}"
    assert json_of(response)["secret"] == SECRET and json_of(response)["id"] == HOOK
    assert "Idempotent-Replayed" not in response.headers
    (name, sent_caller, body, key), = gateway.notifications.calls
    assert (name, sent_caller, body, key[0]) == ("create_webhook", caller("owner"), {**HOOK_BODY, "active": True},
                                                 "h1")


def test_a_webhook_registered_without_a_key_sends_none_and_keeps_its_active_flag(gateway):
    gateway.create_webhook(request(body={**HOOK_BODY, "active": False}, token="admin"))
    assert gateway.notifications.calls == [("create_webhook", caller("admin"), {**HOOK_BODY, "active": False}, None)]


def test_a_replayed_registration_says_so(gateway):
    gateway.notifications.replay = True
    response = gateway.create_webhook(request(body=HOOK_BODY, headers={"Idempotency-Key": "h1"}))
    assert response.headers["Idempotent-Replayed"] == "true"


def test_a_webhook_url_is_not_masked_as_a_card_number():
    body = {"url": f"https://hooks.example.test/{CARD_DIGITS}", "events": ["*"]}
    assert notifications_schemas.WebhookCreate().load(body)["url"] == body["url"]


@pytest.mark.parametrize("field, value", [
    ("url", ""), ("url", "https://h.test/" + "u" * 2000), ("url", None), ("url", 42),
    ("events", []), ("events", ["ticket.*"] * 51), ("events", ["e" * 101]), ("events", [""]), ("events", "ticket.*"),
    ("events", [None]), ("active", "yes"), ("active", 1), ("secret", "whsec_mine"),
])
def test_each_bad_field_of_a_webhook_is_named(gateway, field, value):
    error = refusal(gateway, "create_webhook", body={**HOOK_BODY, field: value})
    assert [name.split(".")[0] for name in error.errors] == [field]


@pytest.mark.parametrize("missing", ["url", "events"])
def test_a_webhook_needs_a_url_and_events(gateway, missing):
    body = {k: v for k, v in HOOK_BODY.items() if k != missing}
    assert list(refusal(gateway, "create_webhook", body=body).errors) == [missing]


def test_staff_list_and_read_webhooks(gateway):
    assert json_of(gateway.list_webhooks(request("GET", token="agent"))) == {"items": [webhook()]}
    response = gateway.get_webhook(request("GET", token="agent"), HOOK)
    assert response.status_code == 200 and "secret" not in json_of(response)
    assert gateway.notifications.calls == [("list_webhooks", caller("agent")),
                                           ("get_webhook", caller("agent"), HOOK)]


def test_a_webhook_change_sends_only_the_fields_given(gateway):
    response = gateway.update_webhook(request("PATCH", body={"active": False}, token="admin"), HOOK)
    assert response.status_code == 200 and json_of(response)["active"] is False
    assert gateway.notifications.calls == [("update_webhook", caller("admin"), HOOK, {"active": False})]


@pytest.mark.parametrize("body, named", [
    ({}, "_schema"), ({"events": []}, "events"), ({"url": ""}, "url"), ({"active": None}, "active"),
    ({"status": "failing"}, "status"),
])
def test_a_bad_webhook_change_is_named(gateway, body, named):
    error = refusal(gateway, "update_webhook", HOOK, method="PATCH", body=body)
    assert list(error.errors) == [named]


def test_deleting_a_webhook_answers_204(gateway):
    response = gateway.delete_webhook(request("DELETE"), HOOK)
    assert response.status_code == 204 and response.get_data() == b""
    assert gateway.notifications.calls == [("delete_webhook", caller("owner"), HOOK)]


@pytest.mark.parametrize("body", [{}, {"overlap_seconds": 0}, {"overlap_seconds": 604_800}])
def test_rotating_a_secret_passes_the_overlap_and_shows_the_new_secret(gateway, body):
    response = gateway.rotate_webhook_secret(request(body=body), HOOK)
    assert response.status_code == 200 and json_of(response)["secret"] == SECRET
    assert gateway.notifications.calls == [("rotate_secret", caller("owner"), HOOK, body)]


def test_rotating_without_a_body_is_rotating_with_the_default_overlap(gateway):
    gateway.rotate_webhook_secret(request(), HOOK)
    assert gateway.notifications.calls == [("rotate_secret", caller("owner"), HOOK, {})]


@pytest.mark.parametrize("value", [-1, 604_801, "3600", True, None])
def test_a_bad_overlap_is_named(gateway, value):
    error = refusal(gateway, "rotate_webhook_secret", HOOK, body={"overlap_seconds": value})
    assert list(error.errors) == ["overlap_seconds"]


def test_an_endpoints_deliveries_are_paged_and_filtered(gateway):
    response = gateway.webhook_deliveries(request("GET", token="agent",
                                                  query={"status": "dead", "cursor": "c1", "limit": "10"}), HOOK)
    assert response.status_code == 200 and json_of(response)["items"][0]["id"] == DELIVERY
    assert gateway.notifications.calls == [
        ("webhook_deliveries", caller("agent"), HOOK, {"status": "dead", "cursor": "c1", "limit": 10})]


def test_an_endpoints_deliveries_default_to_a_page_of_25(gateway):
    gateway.webhook_deliveries(request("GET", token="agent"), HOOK)
    assert gateway.notifications.calls == [("webhook_deliveries", caller("agent"), HOOK, {"limit": 25})]


@pytest.mark.parametrize("query, named", [
    ({"limit": "0"}, "limit"), ({"limit": "101"}, "limit"), ({"limit": "ten"}, "limit"),
    ({"status": "failed"}, "status"), ({"cursor": ""}, "cursor"),
])
def test_a_bad_deliveries_query_is_named(gateway, query, named):
    assert list(refusal(gateway, "webhook_deliveries", HOOK, method="GET", query=query).errors) == [named]


def test_a_redelivery_answers_202_with_the_new_delivery(gateway):
    response = gateway.redeliver_webhook(request(body={"event_id": EVENT}, token="admin"), HOOK)
    assert response.status_code == 202 and json_of(response) == delivery()
    assert gateway.notifications.calls == [("redeliver", caller("admin"), HOOK, EVENT)]


@pytest.mark.parametrize("body", [{}, {"event_id": "evt_1"}, {"event_id": EVENT.upper()}, {"event_id": None},
                                  {"event_id": EVENT, "force": True}])
def test_a_redelivery_needs_an_event_id(gateway, body):
    error = refusal(gateway, "redeliver_webhook", HOOK, body=body)
    assert list(error.errors) == (["force"] if "force" in body else ["event_id"])


@pytest.mark.parametrize("route, sent", [
    ("get_webhook", {"method": "GET"}), ("update_webhook", {"method": "PATCH", "body": {"active": True}}),
    ("delete_webhook", {"method": "DELETE"}), ("rotate_webhook_secret", {"body": {}}),
    ("webhook_deliveries", {"method": "GET"}), ("redeliver_webhook", {"body": {"event_id": EVENT}}),
])
@pytest.mark.parametrize("webhook_id", ["wh_1", HOOK.upper(), HOOK + "0"])
def test_a_webhook_id_that_cannot_name_one_is_a_404(gateway, route, sent, webhook_id):
    with pytest.raises(NotFound) as info:
        getattr(gateway, route)(request(**sent), webhook_id)
    assert info.value.code == "webhook_not_found"
    assert gateway.notifications.calls == []


@pytest.mark.parametrize("route, args, sent", [
    ("create_webhook", (), {"body": HOOK_BODY}),
    ("update_webhook", (HOOK,), {"method": "PATCH", "body": {"active": False}}),
    ("delete_webhook", (HOOK,), {"method": "DELETE"}),
    ("rotate_webhook_secret", (HOOK,), {"body": {}}),
    ("redeliver_webhook", (HOOK,), {"body": {"event_id": EVENT}}),
])
def test_agents_read_but_do_not_change_webhooks(gateway, route, args, sent):
    with pytest.raises(Forbidden):
        getattr(gateway, route)(request(token="agent", **sent), *args)
    assert gateway.notifications.calls == []


@pytest.mark.parametrize("route, args", [("list_webhooks", ()), ("get_webhook", (HOOK,)),
                                         ("webhook_deliveries", (HOOK,))])
@pytest.mark.parametrize("token", ["ali", "platform"])
def test_shoppers_and_the_platform_see_no_webhooks(gateway, route, args, token):
    with pytest.raises(Forbidden):
        getattr(gateway, route)(request("GET", token=token), *args)


def test_no_token_is_a_401_before_anything_else(gateway):
    with pytest.raises(Unauthenticated):
        gateway.create_webhook(request(body={}, token="nobody"))


# --- the delivery log ----------------------------------------------------------------------------


def test_the_delivery_log_passes_every_filter(gateway):
    query = {"ticket_id": TICKET, "customer_id": ALI, "channel": "sms", "status": "held", "event_id": EVENT,
             "cursor": "c1", "limit": "5"}
    response = gateway.list_notifications(request("GET", token="agent", query=query))
    assert response.status_code == 200 and json_of(response)["next_cursor"] == "c2"
    assert gateway.notifications.calls == [("deliveries", caller("agent"), {**query, "limit": 5})]


def test_the_delivery_log_defaults_to_a_page_of_25(gateway):
    gateway.list_notifications(request("GET"))
    assert gateway.notifications.calls == [("deliveries", caller("owner"), {"limit": 25})]


@pytest.mark.parametrize("status", notifications_schemas.DELIVERY_STATUSES)
def test_every_delivery_status_filters_the_log(gateway, status):
    gateway.list_notifications(request("GET", query={"status": status}))
    assert gateway.notifications.calls[0][2]["status"] == status


@pytest.mark.parametrize("query, named", [
    ({"ticket_id": "42"}, "ticket_id"), ({"customer_id": ALI.upper()}, "customer_id"),
    ({"event_id": "evt"}, "event_id"), ({"channel": "push"}, "channel"), ({"status": "failed"}, "status"),
    ({"limit": "101"}, "limit"), ({"recipient": "+966500000000"}, "recipient"),
])
def test_a_bad_log_filter_is_named(gateway, query, named):
    assert list(refusal(gateway, "list_notifications", method="GET", query=query).errors) == [named]


@pytest.mark.parametrize("token", ["ali", "platform"])
def test_only_staff_read_the_delivery_log(gateway, token):
    with pytest.raises(Forbidden):
        gateway.list_notifications(request("GET", token=token))


def test_retrying_a_delivery_answers_it(gateway):
    response = gateway.retry_notification(request(token="admin"), DELIVERY)
    assert response.status_code == 200 and json_of(response)["status"] == "pending"
    assert gateway.notifications.calls == [("retry", caller("admin"), DELIVERY)]


def test_a_retry_takes_no_fields(gateway):
    assert list(refusal(gateway, "retry_notification", DELIVERY, body={"now": True}).errors) == ["now"]


def test_a_delivery_id_that_cannot_name_one_is_a_404(gateway):
    with pytest.raises(NotFound) as info:
        gateway.retry_notification(request(), "dl_1")
    assert info.value.code == "delivery_not_found" and gateway.notifications.calls == []


def test_agents_do_not_retry_deliveries(gateway):
    with pytest.raises(Forbidden):
        gateway.retry_notification(request(token="agent"), DELIVERY)


# --- shoppers' preferences -------------------------------------------------------------------------


def test_a_shopper_opts_out_of_a_channel_for_themself(gateway):
    response = gateway.set_my_notification_preferences(request("PUT", body={"sms": False}, token="ali"))
    assert response.status_code == 200 and json_of(response) == {"customer_id": ALI, "email": True, "sms": False}
    assert gateway.notifications.calls == [("set_preferences", caller("ali"), ALI, {"sms": False})]


def test_a_shopper_reads_their_own_preferences(gateway):
    response = gateway.my_notification_preferences(request("GET", token="ali"))
    assert json_of(response)["customer_id"] == ALI
    assert gateway.notifications.calls == [("get_preferences", caller("ali"), ALI)]


@pytest.mark.parametrize("body, named", [
    ({}, "_schema"), ({"email": "false"}, "email"), ({"sms": 0}, "sms"), ({"sms": None}, "sms"),
    ({"webhook": False}, "webhook"),
])
def test_a_bad_preference_is_named(gateway, body, named):
    error = refusal(gateway, "set_my_notification_preferences", method="PUT", body=body, token="ali")
    assert list(error.errors) == [named]


@pytest.mark.parametrize("token", ["owner", "agent", "platform"])
def test_the_own_preferences_route_is_the_shoppers(gateway, token):
    with pytest.raises(Forbidden):
        gateway.my_notification_preferences(request("GET", token=token))
    with pytest.raises(Forbidden):
        gateway.set_my_notification_preferences(request("PUT", body={"sms": False}, token=token))


def test_staff_opt_a_customer_of_the_store_out(gateway):
    response = gateway.set_customer_notification_preferences(request("PUT", body={"email": False},
                                                                     token="agent"), ALI)
    assert json_of(response)["email"] is False
    assert gateway.customers.calls == [("standing", STORE, ALI)]
    assert gateway.notifications.calls == [("set_preferences", caller("agent"), ALI, {"email": False})]


def test_staff_read_a_customers_preferences(gateway):
    gateway.customer_notification_preferences(request("GET", token="agent"), ALI)
    assert gateway.customers.calls == [("standing", STORE, ALI)]
    assert gateway.notifications.calls == [("get_preferences", caller("agent"), ALI)]


@pytest.mark.parametrize("route, sent", [("customer_notification_preferences", {"method": "GET"}),
                                         ("set_customer_notification_preferences",
                                          {"method": "PUT", "body": {"sms": True}})])
def test_a_customer_the_store_does_not_have_is_a_404_and_nothing_is_asked(gateway, route, sent):
    with pytest.raises(NotFound) as info:
        getattr(gateway, route)(request(**sent), STRANGER)
    assert info.value.code == "customer_not_found" and gateway.notifications.calls == []
    with pytest.raises(NotFound) as info:
        getattr(gateway, route)(request(**sent), "cus_42")
    assert info.value.code == "customer_not_found"
    assert gateway.customers.calls == [("standing", STORE, STRANGER)]  # the bad id asked nobody


@pytest.mark.parametrize("token", ["ali", "platform"])
def test_only_staff_use_a_customers_preferences_route(gateway, token):
    with pytest.raises(Forbidden):
        gateway.customer_notification_preferences(request("GET", token=token), ALI)
    with pytest.raises(Forbidden):
        gateway.set_customer_notification_preferences(request("PUT", body={"sms": True}, token=token), ALI)


# --- templates ------------------------------------------------------------------------------------

TEMPLATE = {"subject": "Ticket #{{ ticket.number }}", "text": "Hello {{ customer.name }}",
            "html": "<p>Hello {{ customer.name }}</p>"}


def test_staff_read_the_template_catalogue(gateway):
    response = gateway.notification_templates(request("GET", token="agent"))
    assert json_of(response)["kinds"][0]["locales"] == ["ar", "en"]
    assert gateway.notifications.calls == [("templates", caller("agent"))]


@pytest.mark.parametrize("locale", fields_schemas.LOCALES)
def test_an_admin_overrides_a_template(gateway, locale):
    response = gateway.put_notification_template(request("PUT", body=TEMPLATE, token="admin"), "ticket_reply", locale)
    assert response.status_code == 200 and json_of(response)["kind"] == "ticket_reply"
    assert gateway.notifications.calls == [("put_template", caller("admin"), "ticket_reply", locale, TEMPLATE)]


def test_removing_an_override_answers_204(gateway):
    response = gateway.delete_notification_template(request("DELETE"), "ticket_reply", "ar")
    assert response.status_code == 204
    assert gateway.notifications.calls == [("delete_template", caller("owner"), "ticket_reply", "ar")]


@pytest.mark.parametrize("kind, locale, named", [
    ("Ticket_Reply", "ar", "kind"), ("ticket-reply", "ar", "kind"), ("t" * 41, "ar", "kind"),
    ("ticket_reply1", "en", "kind"), ("ticket_reply", "fr", "locale"), ("ticket_reply", "AR", "locale"),
])
@pytest.mark.parametrize("route, sent", [("put_notification_template", {"method": "PUT", "body": TEMPLATE}),
                                         ("delete_notification_template", {"method": "DELETE"})])
def test_a_kind_or_locale_that_cannot_name_a_template_is_a_404_naming_it(gateway, route, sent, kind, locale, named):
    with pytest.raises(NotFound) as info:
        getattr(gateway, route)(request(**sent), kind, locale)
    assert info.value.code == "template_not_found" and list(info.value.errors) == [named]
    assert gateway.notifications.calls == []


@pytest.mark.parametrize("field, value", [
    ("subject", ""), ("subject", "s" * 201), ("text", "t" * 20_001), ("html", "h" * 100_001), ("html", None),
    ("text", "a\x00b"), ("locale", "ar"),
])
def test_each_bad_part_of_a_template_is_named(gateway, field, value):
    error = refusal(gateway, "put_notification_template", "ticket_reply", "ar", method="PUT",
                    body={**TEMPLATE, field: value})
    assert list(error.errors) == [field]


@pytest.mark.parametrize("missing", ["subject", "text", "html"])
def test_a_template_needs_its_three_parts(gateway, missing):
    body = {k: v for k, v in TEMPLATE.items() if k != missing}
    error = refusal(gateway, "put_notification_template", "ticket_reply", "ar", method="PUT", body=body)
    assert list(error.errors) == [missing]


def test_a_card_number_typed_into_a_template_is_masked():
    loaded = notifications_schemas.TemplateWrite().load({**TEMPLATE, "text": f"pay with {CARD_DIGITS}"})
    assert CARD_DIGITS not in loaded["text"] and loaded["text"].endswith("1111")


@pytest.mark.parametrize("route, sent", [("put_notification_template", {"method": "PUT", "body": TEMPLATE}),
                                         ("delete_notification_template", {"method": "DELETE"})])
def test_agents_do_not_change_templates(gateway, route, sent):
    with pytest.raises(Forbidden):
        getattr(gateway, route)(request(token="agent", **sent), "ticket_reply", "ar")


# --- the OpenAPI document --------------------------------------------------------------------------

NOTIFICATION_ROUTES = [
    ("GET", "/v1/settings/notifications", STAFF, "notifications", 200),
    ("PATCH", "/v1/settings/notifications", ADMIN, "notifications", 200),
    ("POST", "/v1/webhooks", ADMIN, "webhooks", 201),
    ("GET", "/v1/webhooks", STAFF, "webhooks", 200),
    ("GET", "/v1/webhooks/<webhook_id>", STAFF, "webhooks", 200),
    ("PATCH", "/v1/webhooks/<webhook_id>", ADMIN, "webhooks", 200),
    ("DELETE", "/v1/webhooks/<webhook_id>", ADMIN, "webhooks", 204),
    ("POST", "/v1/webhooks/<webhook_id>/rotate-secret", ADMIN, "webhooks", 200),
    ("GET", "/v1/webhooks/<webhook_id>/deliveries", STAFF, "webhooks", 200),
    ("POST", "/v1/webhooks/<webhook_id>/redeliver", ADMIN, "webhooks", 202),
    ("GET", "/v1/notifications", STAFF, "notifications", 200),
    ("POST", "/v1/notifications/<delivery_id>/retry", ADMIN, "notifications", 200),
    ("GET", "/v1/notification-preferences", CUSTOMER, "notifications", 200),
    ("PUT", "/v1/notification-preferences", CUSTOMER, "notifications", 200),
    ("GET", "/v1/customers/<customer_id>/notification-preferences", STAFF, "notifications", 200),
    ("PUT", "/v1/customers/<customer_id>/notification-preferences", STAFF, "notifications", 200),
    ("GET", "/v1/notification-templates", STAFF, "notifications", 200),
    ("PUT", "/v1/notification-templates/<kind>/<locale>", ADMIN, "notifications", 200),
    ("DELETE", "/v1/notification-templates/<kind>/<locale>", ADMIN, "notifications", 204),
]


@pytest.mark.parametrize("method, rule, roles, tag, status", NOTIFICATION_ROUTES,
                         ids=[f"{m} {r}" for m, r, *_ in NOTIFICATION_ROUTES])
def test_every_notification_route_is_documented_with_its_roles_and_status(method, rule, roles, tag, status):
    docs = {(d.method, d.rule): d for d in routes(GatewayService)}
    assert docs[(method, rule)].roles == roles and docs[(method, rule)].status == status
    operation = openapi_document(GatewayService)["paths"][openapi_path(rule)][method.lower()]
    assert operation["description"] == f"Allowed: {', '.join(roles)}."
    assert operation["tags"] == [tag] and str(status) in operation["responses"]


def test_only_the_answers_that_carry_a_secret_document_it():
    components = openapi_document(GatewayService)["components"]["schemas"]
    assert "secret" in components["WebhookCreated"]["properties"]
    assert "secret" in components["WebhookSecret"]["properties"]
    assert "secret" not in components["Webhook"]["properties"]


def test_the_delivery_log_documents_its_filters_and_fields():
    operation = openapi_document(GatewayService)["paths"]["/v1/notifications"]["get"]
    assert {p["name"] for p in operation["parameters"] if p["in"] == "query"} == {
        "ticket_id", "customer_id", "channel", "status", "event_id", "cursor", "limit"}
    delivery_fields = openapi_document(GatewayService)["components"]["schemas"]["Delivery"]["properties"]
    assert set(delivery_fields) == {"id", "event_id", "event_type", "channel", "recipient", "kind", "status",
                                    "reason", "attempts", "ticket_id", "customer_id", "endpoint_id",
                                    "template_fallback",
                                    "created_at", "updated_at", "sent_at"}
