"""The store's notification settings, webhook endpoints, the delivery log,
shoppers' opt-outs and template overrides (docs/notifications.md). The
notifications service decides (safe URLs, templates that compile, what may
be retried); the gateway validates and scopes to the caller."""
from __future__ import annotations

from ..routing import ADMIN, CUSTOMER, STAFF, route
from ..schemas import notifications as schemas
from ..schemas.fields import NoFields
from .base import RouteBase

TAGS = ("notifications",)
HOOKS = ("webhooks",)


class NotificationRoutes(RouteBase):

    # --- settings ---------------------------------------------------------------------

    @route("GET", "/v1/settings/notifications",
           "The store's notification settings: support address, locale, branding, quotas", roles=STAFF,
           response=schemas.NotificationSettings, tags=TAGS)
    def notification_settings(self, call):
        return self.notifications.settings(call.caller)

    @route("PATCH", "/v1/settings/notifications", "Change the store's notification settings (the fields sent)",
           roles=ADMIN, body=schemas.NotificationSettingsUpdate, response=schemas.NotificationSettings, tags=TAGS)
    def update_notification_settings(self, call):
        return self.notifications.update_settings(call.caller, call.body)

    # --- webhooks ---------------------------------------------------------------------

    @route("POST", "/v1/webhooks", "Register a webhook endpoint; its signing secret is shown only in this answer",
           roles=ADMIN, body=schemas.WebhookCreate, response=schemas.WebhookCreated, status=201, resource="webhook",
           location="/v1/webhooks/{id}", idempotent=True, tags=HOOKS)
    def create_webhook(self, call):
        return self.notifications.create_webhook(call.caller, call.body, call.idempotency)

    @route("GET", "/v1/webhooks", "The store's webhook endpoints", roles=STAFF, response=schemas.WebhookList,
           tags=HOOKS)
    def list_webhooks(self, call):
        return self.notifications.list_webhooks(call.caller)

    @route("GET", "/v1/webhooks/<webhook_id>", "A webhook endpoint", roles=STAFF, response=schemas.Webhook,
           tags=HOOKS)
    def get_webhook(self, call, webhook_id):
        return self.notifications.get_webhook(call.caller, webhook_id)

    @route("PATCH", "/v1/webhooks/<webhook_id>", "Change a webhook endpoint's url, events and/or active flag",
           roles=ADMIN, body=schemas.WebhookUpdate, response=schemas.Webhook, tags=HOOKS)
    def update_webhook(self, call, webhook_id):
        return self.notifications.update_webhook(call.caller, webhook_id, call.body)

    @route("DELETE", "/v1/webhooks/<webhook_id>", "Delete a webhook endpoint", roles=ADMIN, status=204, tags=HOOKS)
    def delete_webhook(self, call, webhook_id):
        self.notifications.delete_webhook(call.caller, webhook_id)

    @route("POST", "/v1/webhooks/<webhook_id>/rotate-secret",
           "Rotate the signing secret: both sign deliveries during the overlap; the new one is shown only here",
           roles=ADMIN, body=schemas.SecretRotation, response=schemas.WebhookSecret, tags=HOOKS)
    def rotate_webhook_secret(self, call, webhook_id):
        return self.notifications.rotate_secret(call.caller, webhook_id, call.body)

    @route("GET", "/v1/webhooks/<webhook_id>/deliveries",
           "The endpoint's deliveries, newest first, each with its attempts", roles=STAFF,
           query=schemas.WebhookDeliveryQuery, response=schemas.WebhookDeliveryList, tags=HOOKS)
    def webhook_deliveries(self, call, webhook_id):
        return self.notifications.webhook_deliveries(call.caller, webhook_id, call.query)

    @route("POST", "/v1/webhooks/<webhook_id>/redeliver",
           "Send one of the store's events to the endpoint again: a new delivery", roles=ADMIN,
           body=schemas.Redelivery, response=schemas.WebhookDelivery, status=202, resource="delivery", tags=HOOKS)
    def redeliver_webhook(self, call, webhook_id):
        return self.notifications.redeliver(call.caller, webhook_id, call.body["event_id"])

    # --- the delivery log -------------------------------------------------------------

    @route("GET", "/v1/notifications", "The store's delivery log (email, SMS, webhooks), newest first", roles=STAFF,
           query=schemas.DeliveryQuery, response=schemas.DeliveryList, tags=TAGS)
    def list_notifications(self, call):
        return self.notifications.deliveries(call.caller, call.query)

    @route("POST", "/v1/notifications/<delivery_id>/retry", "Send a dead, held or refused delivery again",
           roles=ADMIN, body=NoFields, response=schemas.Delivery, tags=TAGS)
    def retry_notification(self, call, delivery_id):
        return self.notifications.retry(call.caller, delivery_id)

    # --- shoppers' preferences ----------------------------------------------------------

    @route("GET", "/v1/notification-preferences", "My notification preferences (the shopper)", roles=CUSTOMER,
           response=schemas.NotificationPreferences, tags=TAGS)
    def my_notification_preferences(self, call):
        return self.notifications.get_preferences(call.caller, call.caller.id)

    @route("PUT", "/v1/notification-preferences", "Opt in or out of email and/or SMS (the shopper)", roles=CUSTOMER,
           body=schemas.NotificationPreferencesUpdate, response=schemas.NotificationPreferences, tags=TAGS)
    def set_my_notification_preferences(self, call):
        return self.notifications.set_preferences(call.caller, call.caller.id, call.body)

    @route("GET", "/v1/customers/<customer_id>/notification-preferences", "A customer's notification preferences",
           roles=STAFF, response=schemas.NotificationPreferences, tags=TAGS)
    def customer_notification_preferences(self, call, customer_id):
        self.customers.standing(call.caller.store_id, customer_id)  # 404 unless a customer of the store
        return self.notifications.get_preferences(call.caller, customer_id)

    @route("PUT", "/v1/customers/<customer_id>/notification-preferences",
           "Opt a customer in or out of email and/or SMS", roles=STAFF, body=schemas.NotificationPreferencesUpdate,
           response=schemas.NotificationPreferences, tags=TAGS)
    def set_customer_notification_preferences(self, call, customer_id):
        self.customers.standing(call.caller.store_id, customer_id)  # 404 unless a customer of the store
        return self.notifications.set_preferences(call.caller, customer_id, call.body)

    # --- templates ----------------------------------------------------------------------

    @route("GET", "/v1/notification-templates", "Template kinds, locales, their variables and the store's overrides",
           roles=STAFF, response=schemas.TemplateCatalog, tags=TAGS)
    def notification_templates(self, call):
        return self.notifications.templates(call.caller)

    @route("PUT", "/v1/notification-templates/<kind>/<locale>",
           "Override a template for the store (a syntax error is a 422 naming the field)", roles=ADMIN,
           body=schemas.TemplateWrite, response=schemas.TemplateOverride, tags=TAGS)
    def put_notification_template(self, call, kind, locale):
        return self.notifications.put_template(call.caller, kind, locale, call.body)

    @route("DELETE", "/v1/notification-templates/<kind>/<locale>",
           "Remove the store's override: the default template is sent again", roles=ADMIN, status=204, tags=TAGS)
    def delete_notification_template(self, call, kind, locale):
        self.notifications.delete_template(call.caller, kind, locale)
