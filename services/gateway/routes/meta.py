"""The event feed, this API's own document, health, and the answer to a route that does not exist."""
from __future__ import annotations

import kombu

from seedwork.errors import Forbidden, ServiceUnavailable

from .. import event_feed
from ..http import ApiRoute, problem
from ..openapi import openapi_document
from ..routing import PLATFORM, STAFF, Answer, route
from ..schemas import meta as schemas
from .base import RouteBase

BACKENDS = ("tickets", "customers", "notifications", "reports")


class MetaRoutes(RouteBase):

    @route("GET", "/v1/events",
           "The store's events as CloudEvents: one service's in its global order (source=, default tickets) or "
           "every service's merged (source=all, paged by cursor); the platform key sees every store",
           roles=STAFF + PLATFORM, query=schemas.EventsQuery, response=schemas.EventPage, tags=("events",))
    def events(self, call):
        query = call.query
        if call.caller.is_platform:
            store_id = query.get("store_id")
        elif "store_id" in query:
            raise Forbidden("field_not_allowed", "a store's token reads its own store's events",
                            {"store_id": ["only the platform key may choose the store"]})
        else:
            store_id = call.caller.store_id
        # The caller: a team-scoped agent reads only the events of the tickets they may see.
        return event_feed.read(self, call.caller, store_id, query)

    @route("GET", "/v1/openapi.json", "This document", response=schemas.Document, tags=("meta",))
    def openapi(self, call):
        return openapi_document(type(self))

    @route("GET", "/health/live", "The process answers", response=schemas.HealthLive, tags=("meta",))
    def live(self, call):
        return {"status": "ok"}

    @route("GET", "/health/ready", "The database and RabbitMQ answer (503 when one does not)",
           response=schemas.HealthReady, degraded=True, tags=("meta",))
    def ready(self, call):
        checks = {}
        try:
            self.identity.health()
            checks["database"] = "ok"
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            checks["database"] = f"error: {exc.__class__.__name__}"
        try:
            with kombu.Connection(self.config.amqp_uri, connect_timeout=self.config.health_timeout) as conn:
                conn.ensure_connection(max_retries=1)
            checks["rabbitmq"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["rabbitmq"] = f"error: {exc.__class__.__name__}"
        ok = all(v == "ok" for v in checks.values())
        return Answer({"status": "ok" if ok else "unavailable", "checks": checks}, status=200 if ok else 503)

    @route("GET", "/health", "Every service's health, over RPC (503 when one does not answer)",
           response=schemas.Health, degraded=True, tags=("meta",))
    def health(self, call):
        report, calls = {}, {}
        for name in BACKENDS:  # asked at once: the slowest answer is the wait
            try:
                calls[name] = getattr(self, name).health.call_async()
            except Exception as exc:  # e.g. UnknownService: it never started on this broker
                report[name] = {"error": repr(exc)}
        for name, call_ in calls.items():
            try:
                report[name] = call_.result(timeout=self.config.health_timeout)
            except ServiceUnavailable:
                report[name] = {"error": f"no answer within {self.config.health_timeout:g}s"}
            except Exception as exc:  # the service answered with an error
                report[name] = {"error": repr(exc)}
        healthy = not any("error" in r for r in report.values())
        return Answer({"status": "ok" if healthy else "degraded", "services": report}, status=200 if healthy else 503)

    @ApiRoute.decorator("GET,POST,PUT,PATCH,DELETE", "/<path:path>")
    def no_route(self, request, path):
        return problem(404, "no_route", f"no route {request.method} /{path}; see /v1/openapi.json")
