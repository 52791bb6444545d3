"""Routes of notifications: the store's settings, webhook endpoints, the
delivery log, shoppers' opt-outs and template overrides (docs/notifications.md).

A mixin of ``GatewayService``: Nameko finds entrypoints on base classes, and
the dependencies these routes use (``notifications``, ``customers``) are
declared there. The notifications service decides (safe URLs, templates that
compile, what may be retried); the gateway validates and scopes to the caller.
"""
from __future__ import annotations

import re

from werkzeug.wrappers import Response

from seedwork.errors import NotFound

from . import notifications_schemas as ns
from .common import ADMIN, CUSTOMER, STAFF, checked_customer_id as _customer, checked_uuid, idempotency, replayed
from .http import RouteDoc, api, json_response, load_json, load_query
from .schemas import NoFields

TEMPLATE_KIND = re.compile(r"^[a-z_]{1,40}\Z")


def _webhook(webhook_id: str) -> str:
    return checked_uuid(webhook_id, "webhook_not_found", "webhook")


def _delivery(delivery_id: str) -> str:
    return checked_uuid(delivery_id, "delivery_not_found", "delivery")


def _template(kind: str, locale: str) -> tuple[str, str]:
    """A kind and locale that could name a template; anything else names none (404 naming the part)."""
    if not TEMPLATE_KIND.match(kind):
        raise NotFound("template_not_found", f"no template kind {kind}",
                       {"kind": ["lowercase letters and _ (up to 40)"]})
    if locale not in ns.LOCALES:
        raise NotFound("template_not_found", f"no template locale {locale}",
                       {"locale": [f"one of {', '.join(ns.LOCALES)}"]})
    return kind, locale


class NotificationRoutes:

    # --- settings ---------------------------------------------------------------------

    @api("GET", "/v1/settings/notifications", doc=RouteDoc(
        "The store's notification settings: support address, locale, branding, quotas", STAFF,
        response=ns.NotificationSettings, tags=("notifications",)))
    def notification_settings(self, request):
        principal = self._caller(request, STAFF)
        return json_response(200, self.notifications.settings(principal.as_caller()))

    @api("PATCH", "/v1/settings/notifications", doc=RouteDoc(
        "Change the store's notification settings (the fields sent)", ADMIN, ns.NotificationSettingsUpdate,
        response=ns.NotificationSettings, tags=("notifications",)))
    def update_notification_settings(self, request):
        principal = self._caller(request, ADMIN)
        body = load_json(request, ns.NotificationSettingsUpdate())
        return json_response(200, self.notifications.update_settings(principal.as_caller(), body))

    # --- webhooks ---------------------------------------------------------------------

    @api("POST", "/v1/webhooks", doc=RouteDoc(
        "Register a webhook endpoint; its signing secret is shown only in this answer", ADMIN, ns.WebhookCreate,
        response=ns.WebhookCreated, status=201, idempotent_post=True, tags=("webhooks",)))
    def create_webhook(self, request):
        principal = self._caller(request, ADMIN)
        body = load_json(request, ns.WebhookCreate())
        result = self.notifications.create_webhook(principal.as_caller(), body, idempotency(request, body))
        webhook = result["webhook"]
        headers = {"Location": f"/v1/webhooks/{webhook['id']}"} if result["status"] == 201 else {}
        return json_response(result["status"], webhook, {**headers, **replayed(result)})

    @api("GET", "/v1/webhooks", doc=RouteDoc(
        "The store's webhook endpoints", STAFF, response=ns.WebhookList, tags=("webhooks",)))
    def list_webhooks(self, request):
        principal = self._caller(request, STAFF)
        return json_response(200, self.notifications.list_webhooks(principal.as_caller()))

    @api("GET", "/v1/webhooks/<webhook_id>", doc=RouteDoc(
        "A webhook endpoint", STAFF, response=ns.Webhook, tags=("webhooks",)))
    def get_webhook(self, request, webhook_id):
        principal = self._caller(request, STAFF)
        return json_response(200, self.notifications.get_webhook(principal.as_caller(), _webhook(webhook_id)))

    @api("PATCH", "/v1/webhooks/<webhook_id>", doc=RouteDoc(
        "Change a webhook endpoint's url, events and/or active flag", ADMIN, ns.WebhookUpdate,
        response=ns.Webhook, tags=("webhooks",)))
    def update_webhook(self, request, webhook_id):
        principal = self._caller(request, ADMIN)
        body = load_json(request, ns.WebhookUpdate())
        return json_response(200, self.notifications.update_webhook(principal.as_caller(), _webhook(webhook_id),
                                                                    body))

    @api("DELETE", "/v1/webhooks/<webhook_id>", doc=RouteDoc(
        "Delete a webhook endpoint", ADMIN, status=204, tags=("webhooks",)))
    def delete_webhook(self, request, webhook_id):
        principal = self._caller(request, ADMIN)
        self.notifications.delete_webhook(principal.as_caller(), _webhook(webhook_id))
        return Response(status=204)

    @api("POST", "/v1/webhooks/<webhook_id>/rotate-secret", doc=RouteDoc(
        "Rotate the signing secret: both sign deliveries during the overlap; the new one is shown only here",
        ADMIN, ns.SecretRotation, response=ns.WebhookSecret, tags=("webhooks",)))
    def rotate_webhook_secret(self, request, webhook_id):
        principal = self._caller(request, ADMIN)
        body = load_json(request, ns.SecretRotation())
        return json_response(200, self.notifications.rotate_secret(principal.as_caller(), _webhook(webhook_id),
                                                                   body))

    @api("GET", "/v1/webhooks/<webhook_id>/deliveries", doc=RouteDoc(
        "The endpoint's deliveries, newest first, each with its attempts", STAFF, query=ns.WebhookDeliveryQuery,
        response=ns.WebhookDeliveryList, tags=("webhooks",)))
    def webhook_deliveries(self, request, webhook_id):
        principal = self._caller(request, STAFF)
        query = load_query(request, ns.WebhookDeliveryQuery())
        return json_response(200, self.notifications.webhook_deliveries(principal.as_caller(), _webhook(webhook_id),
                                                                        query))

    @api("POST", "/v1/webhooks/<webhook_id>/redeliver", doc=RouteDoc(
        "Send one of the store's events to the endpoint again: a new delivery", ADMIN, ns.Redelivery,
        response=ns.WebhookDelivery, status=202, tags=("webhooks",)))
    def redeliver_webhook(self, request, webhook_id):
        principal = self._caller(request, ADMIN)
        body = load_json(request, ns.Redelivery())
        result = self.notifications.redeliver(principal.as_caller(), _webhook(webhook_id), body["event_id"])
        return json_response(result["status"], result["delivery"])

    # --- the delivery log -------------------------------------------------------------

    @api("GET", "/v1/notifications", doc=RouteDoc(
        "The store's delivery log (email, SMS, webhooks), newest first", STAFF, query=ns.DeliveryQuery,
        response=ns.DeliveryList, tags=("notifications",)))
    def list_notifications(self, request):
        principal = self._caller(request, STAFF)
        query = load_query(request, ns.DeliveryQuery())
        return json_response(200, self.notifications.deliveries(principal.as_caller(), query))

    @api("POST", "/v1/notifications/<delivery_id>/retry", doc=RouteDoc(
        "Send a dead, held or refused delivery again", ADMIN, NoFields, response=ns.Delivery,
        tags=("notifications",)))
    def retry_notification(self, request, delivery_id):
        principal = self._caller(request, ADMIN)
        load_json(request, NoFields())
        return json_response(200, self.notifications.retry(principal.as_caller(), _delivery(delivery_id)))

    # --- shoppers' preferences ----------------------------------------------------------

    @api("GET", "/v1/notification-preferences", doc=RouteDoc(
        "My notification preferences (the shopper)", CUSTOMER, response=ns.NotificationPreferences,
        tags=("notifications",)))
    def my_notification_preferences(self, request):
        principal = self._caller(request, CUSTOMER)
        return json_response(200, self.notifications.get_preferences(principal.as_caller(), principal.id))

    @api("PUT", "/v1/notification-preferences", doc=RouteDoc(
        "Opt in or out of email and/or SMS (the shopper)", CUSTOMER, ns.NotificationPreferencesUpdate,
        response=ns.NotificationPreferences, tags=("notifications",)))
    def set_my_notification_preferences(self, request):
        principal = self._caller(request, CUSTOMER)
        body = load_json(request, ns.NotificationPreferencesUpdate())
        return json_response(200, self.notifications.set_preferences(principal.as_caller(), principal.id, body))

    @api("GET", "/v1/customers/<customer_id>/notification-preferences", doc=RouteDoc(
        "A customer's notification preferences", STAFF, response=ns.NotificationPreferences,
        tags=("notifications",)))
    def customer_notification_preferences(self, request, customer_id):
        principal = self._caller(request, STAFF)
        self._store_customer(principal, customer_id)
        return json_response(200, self.notifications.get_preferences(principal.as_caller(), customer_id))

    @api("PUT", "/v1/customers/<customer_id>/notification-preferences", doc=RouteDoc(
        "Opt a customer in or out of email and/or SMS", STAFF, ns.NotificationPreferencesUpdate,
        response=ns.NotificationPreferences, tags=("notifications",)))
    def set_customer_notification_preferences(self, request, customer_id):
        principal = self._caller(request, STAFF)
        body = load_json(request, ns.NotificationPreferencesUpdate())
        self._store_customer(principal, customer_id)
        return json_response(200, self.notifications.set_preferences(principal.as_caller(), customer_id, body))

    def _store_customer(self, principal, customer_id: str) -> None:
        # Only a customer of the store has preferences (else 404 customer_not_found).
        self.customers.standing(principal.store_id, _customer(customer_id))

    # --- templates ----------------------------------------------------------------------

    @api("GET", "/v1/notification-templates", doc=RouteDoc(
        "Template kinds, locales, their variables and the store's overrides", STAFF,
        response=ns.TemplateCatalog, tags=("notifications",)))
    def notification_templates(self, request):
        principal = self._caller(request, STAFF)
        return json_response(200, self.notifications.templates(principal.as_caller()))

    @api("PUT", "/v1/notification-templates/<kind>/<locale>", doc=RouteDoc(
        "Override a template for the store (a syntax error is a 422 naming the field)", ADMIN, ns.TemplateWrite,
        response=ns.TemplateOverride, tags=("notifications",)))
    def put_notification_template(self, request, kind, locale):
        principal = self._caller(request, ADMIN)
        body = load_json(request, ns.TemplateWrite())
        kind, locale = _template(kind, locale)
        return json_response(200, self.notifications.put_template(principal.as_caller(), kind, locale, body))

    @api("DELETE", "/v1/notification-templates/<kind>/<locale>", doc=RouteDoc(
        "Remove the store's override: the default template is sent again", ADMIN, status=204,
        tags=("notifications",)))
    def delete_notification_template(self, request, kind, locale):
        principal = self._caller(request, ADMIN)
        kind, locale = _template(kind, locale)
        self.notifications.delete_template(principal.as_caller(), kind, locale)
        return Response(status=204)
