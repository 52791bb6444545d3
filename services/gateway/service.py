"""The HTTP gateway: the ``/v1`` JSON API for store front-ends, agents and integrations.

``GatewayService`` is every route module at once (``routes/``); each route is
declared once (``routing.route``): who may call it, what it takes and what
it answers. The routes authenticate, validate and scope to the caller, then
ask the service that owns the resource over RPC.
"""
from __future__ import annotations

# The modules, not their classes: `nameko run` starts every class with
# entrypoints it finds in this module, and only GatewayService is a service.
from .routes import (attachments, canned, customers, groups, meta, notifications, orders, platform, reports,
                     rules, selfservice, stores, teams, tickets, topics, views)


class GatewayService(stores.StoreRoutes, tickets.TicketRoutes, customers.CustomerRoutes, groups.GroupRoutes,
                     orders.OrderRoutes, selfservice.SelfServiceRoutes, canned.CannedRoutes,
                     attachments.AttachmentRoutes, notifications.NotificationRoutes, platform.PlatformRoutes,
                     views.ViewRoutes, meta.MetaRoutes, teams.TeamRoutes, topics.TopicRoutes, rules.RuleRoutes,
                     reports.ReportRoutes):
    name = "gateway"
