"""Reports service entrypoints: thin handlers over ``application``.

Bus handlers hear the tickets service's events (tickets, SLA events, SLA
policies) and the customers service's orders, exactly once each; RPC
methods serve the gateway's report and settings routes.
"""
import logging

from seedwork.caller import Caller
from seedwork.context import RequestContext
from seedwork.nameko_ext import Application, EventSourcing, bus_handler, rpc

from .application import build
from .config import ReportsConfig

log = logging.getLogger(__name__)


class ReportsService:
    name = "reports"

    db = EventSourcing()
    reports = Application(build, config=ReportsConfig.from_env)
    request_id = RequestContext()

    @rpc
    def health(self):
        return self.db.health()

    # --- events in ---------------------------------------------------------------------

    @bus_handler("tickets")
    def on_ticket_event(self, event):
        self.reports.hear(event, "tickets", self.db.once)

    @bus_handler("customers", "order.recorded")
    def on_order_event(self, event):
        self.reports.hear(event, "customers", self.db.once)

    # --- the gateway's requests --------------------------------------------------------

    @rpc
    def summary(self, caller, query):
        return self.reports.summary(Caller.of(caller), query)

    @rpc
    def agents(self, caller, query):
        return self.reports.agents(Caller.of(caller), query)

    @rpc
    def keywords(self, caller, query):
        return self.reports.keywords(Caller.of(caller), query)

    @rpc
    def volume(self, caller, query):
        return self.reports.volume(Caller.of(caller), query)

    @rpc
    def customers(self, caller, query):
        return self.reports.customers(Caller.of(caller), query)

    @rpc
    def products(self, caller, query):
        return self.reports.products(Caller.of(caller), query)

    @rpc
    def events(self, store_id, after, limit):
        return self.reports.events(store_id, int(after), int(limit))

    @rpc
    def settings(self, caller):
        return self.reports.get_settings(Caller.of(caller))

    @rpc
    def update_settings(self, caller, fields, expected_version=None):
        return self.reports.update_settings(Caller.of(caller), fields, expected_version)
