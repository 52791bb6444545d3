"""The HTTP gateway: ``/v1`` JSON API for store front-ends, agents and integrations.

Thin routes: authenticate, validate with ``schemas``, call the identity store
or a service over RPC, answer JSON. Errors become problem responses in
``http.response_for_error``; the OpenAPI document is built from these routes.
"""
from __future__ import annotations

import re

import eventlet
import kombu
from marshmallow import ValidationError

from seedwork import config
from seedwork.errors import Forbidden, NotFound
from seedwork.idempotency import MAX_KEY_LENGTH, fingerprint

from . import schemas
from .dependencies import IdentityStore, TimedRpc
from .http import BadRequest, RouteDoc, api, json_response, load_json, load_query, problem
from .openapi import openapi_document

STAFF = ("owner", "admin", "agent")
CUSTOMER = ("customer",)
ANYONE_IN_STORE = STAFF + CUSTOMER
PLATFORM = ("platform",)
BACKENDS = ("tickets", "customers", "notifications")
HEALTH_TIMEOUT = 3.0
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
KEY = re.compile(r"^[\x21-\x7e]{1,%d}\Z" % MAX_KEY_LENGTH)  # visible ASCII
ETAG = re.compile(r'^(?:W/)?"?([0-9]{1,9})"?\Z')


class GatewayService:
    name = "gateway"

    identity = IdentityStore()
    tickets = TimedRpc("tickets")
    customers = TimedRpc("customers")
    notifications = TimedRpc("notifications")

    # --- helpers (not routes) ----------------------------------------------------

    def _caller(self, request, roles):
        principal = self.identity.authenticate(request.headers.get("Authorization"))
        if principal.role not in roles:
            raise Forbidden("forbidden", f"a {principal.role} may not do this")
        return principal

    # --- stores, staff, customer sessions ---------------------------------------

    @api("POST", "/v1/stores", doc=RouteDoc("Create a store and its owner's token", PLATFORM, schemas.StoreCreate,
                                            response=schemas.Store, status=201, idempotent_post=True,
                                            tags=("stores",)))
    def create_store(self, request):
        principal = self._caller(request, PLATFORM)
        body = load_json(request, schemas.StoreCreate())
        status, store = self.identity.create_store(principal, body["name"], body.get("owner_name"),
                                                   body.get("owner_email"), _idempotency(request, body))
        return _created(status, store, f"/v1/stores/{store['id']}")

    @api("POST", "/v1/agents", doc=RouteDoc("Add a staff member (admin or agent) and get their token",
                                            ("owner", "admin"), schemas.AgentCreate, response=schemas.Agent,
                                            status=201, idempotent_post=True, tags=("stores",)))
    def create_agent(self, request):
        principal = self._caller(request, ("owner", "admin"))
        body = load_json(request, schemas.AgentCreate())
        status, agent = self.identity.create_agent(principal, body["name"], body["email"], body["role"],
                                                   _idempotency(request, body))
        return _created(status, agent, f"/v1/agents/{agent['id']}")

    @api("GET", "/v1/stores/<store_id>", doc=RouteDoc("A store (its own staff, or the platform)",
                                                      STAFF + PLATFORM, response=schemas.StoreView,
                                                      tags=("stores",)))
    def get_store(self, request, store_id):
        principal = self._caller(request, STAFF + PLATFORM)
        return json_response(200, self.identity.get_store(principal, store_id))

    @api("GET", "/v1/agents/<agent_id>", doc=RouteDoc("A staff member of the store", STAFF,
                                                      response=schemas.Agent, tags=("stores",)))
    def get_agent(self, request, agent_id):
        principal = self._caller(request, STAFF)
        return json_response(200, self.identity.get_agent(principal, agent_id))

    @api("GET", "/v1/agents", doc=RouteDoc("The store's staff", STAFF, response=schemas.AgentList,
                                           tags=("stores",)))
    def list_agents(self, request):
        principal = self._caller(request, STAFF)
        return json_response(200, {"items": self.identity.list_agents(principal)})

    @api("POST", "/v1/customers/<customer_id>/sessions",
         doc=RouteDoc("Open a help-widget session for a customer: a token scoped to them", STAFF,
                      schemas.SessionCreate, response=schemas.Session, status=201, idempotent_post=True,
                      tags=("stores",)))
    def open_session(self, request, customer_id):
        principal = self._caller(request, STAFF)
        body = load_json(request, schemas.SessionCreate())
        _check_path_id("customer_id", customer_id)
        status, session = self.identity.open_customer_session(principal, customer_id, _idempotency(request, body))
        return _created(status, session, None)

    # --- tickets ------------------------------------------------------------------

    @api("POST", "/v1/tickets", doc=RouteDoc("Open a ticket", ANYONE_IN_STORE, schemas.TicketCreate,
                                             response=schemas.Ticket, status=201, idempotent_post=True,
                                             tags=("tickets",)))
    def create_ticket(self, request):
        principal = self._caller(request, ANYONE_IN_STORE)
        body = load_json(request, schemas.TicketCreate())
        if "customer_id" in body and not principal.is_staff:
            raise Forbidden("field_not_allowed", "customers open tickets for themselves",
                            {"customer_id": ["only staff may set this field"]})
        result = self.tickets.open(principal.as_caller(), body, _idempotency(request, body))
        return _ticket_response(result)

    @api("GET", "/v1/tickets", doc=RouteDoc("List tickets (a customer sees their own)", ANYONE_IN_STORE,
                                            query=schemas.TicketQuery, response=schemas.TicketList,
                                            tags=("tickets",)))
    def list_tickets(self, request):
        principal = self._caller(request, ANYONE_IN_STORE)
        query = load_query(request, schemas.TicketQuery())
        for many in ("status", "priority"):
            query[many] = [v for v in query.get(many, "").split(",") if v]
        return json_response(200, self.tickets.list(principal.as_caller(), query))

    @api("GET", "/v1/tickets/<ticket_id>", doc=RouteDoc("A ticket, now or `as_of` a past moment",
                                                        ANYONE_IN_STORE, query=schemas.TicketGetQuery,
                                                        response=schemas.Ticket, tags=("tickets",)))
    def get_ticket(self, request, ticket_id):
        principal = self._caller(request, ANYONE_IN_STORE)
        query = load_query(request, schemas.TicketGetQuery())
        _check_ticket_id(ticket_id)
        as_of = query.get("as_of")
        ticket = self.tickets.get(principal.as_caller(), ticket_id, as_of.isoformat() if as_of else None)
        return json_response(200, ticket, {"ETag": _etag(ticket)})

    @api("GET", "/v1/tickets/<ticket_id>/history", doc=RouteDoc("The ticket's events as a timeline",
                                                                ANYONE_IN_STORE, response=schemas.History,
                                                                tags=("tickets",)))
    def ticket_history(self, request, ticket_id):
        principal = self._caller(request, ANYONE_IN_STORE)
        _check_ticket_id(ticket_id)
        return json_response(200, {"items": self.tickets.history(principal.as_caller(), ticket_id)})

    @api("PATCH", "/v1/tickets/<ticket_id>", doc=RouteDoc("Set priority and/or type (staff)", STAFF,
                                                          schemas.TicketUpdate, response=schemas.Ticket,
                                                          if_match=True, tags=("tickets",)))
    def update_ticket(self, request, ticket_id):
        principal = self._caller(request, STAFF)
        body = load_json(request, schemas.TicketUpdate())
        # One transaction: both changes, or neither.
        steps = [[name, {field: body[field]}] for name, field in (("set_priority", "priority"), ("set_type", "type"))
                 if field in body]
        return _ticket_response(self._execute(principal, request, ticket_id, steps, idempotency=False))

    @api("POST", "/v1/tickets/<ticket_id>/replies", doc=RouteDoc(
        "Reply publicly (customer or staff)", ANYONE_IN_STORE, schemas.MessageCreate, response=schemas.Ticket,
        idempotent_post=True, if_match=True, tags=("tickets",)))
    def reply(self, request, ticket_id):
        principal = self._caller(request, ANYONE_IN_STORE)
        body = load_json(request, schemas.MessageCreate())
        return _ticket_response(self._execute(principal, request, ticket_id, [["reply", body]]))

    @api("POST", "/v1/tickets/<ticket_id>/notes", doc=RouteDoc(
        "Add an internal note (staff; never shown to the customer)", STAFF, schemas.MessageCreate,
        response=schemas.Ticket, idempotent_post=True, if_match=True, tags=("tickets",)))
    def note(self, request, ticket_id):
        principal = self._caller(request, STAFF)
        body = load_json(request, schemas.MessageCreate())
        return _ticket_response(self._execute(principal, request, ticket_id, [["note", body]]))

    @api("POST", "/v1/tickets/<ticket_id>/assign", doc=RouteDoc(
        "Assign to an agent and/or a team; null unassigns", STAFF, schemas.AssignRequest,
        response=schemas.Ticket, idempotent_post=True, if_match=True, tags=("tickets",)))
    def assign(self, request, ticket_id):
        principal = self._caller(request, STAFF)
        body = load_json(request, schemas.AssignRequest())
        if body.get("agent_id"):
            self._require_agent(principal, ticket_id, body["agent_id"])
        # A half left out keeps its current value (filled in the command's transaction).
        fields = {}
        if "agent_id" in body:
            fields["assignee_id"] = body["agent_id"]
        if "team" in body:
            fields["team"] = body["team"]
        return _ticket_response(self._execute(principal, request, ticket_id, [["assign", fields]], body=body))

    @api("POST", "/v1/tickets/<ticket_id>/tags", doc=RouteDoc("Add a tag (staff)", STAFF, schemas.TagRequest,
                                                             response=schemas.Ticket, idempotent_post=True,
                                                             if_match=True, tags=("tickets",)))
    def add_tag(self, request, ticket_id):
        principal = self._caller(request, STAFF)
        body = load_json(request, schemas.TagRequest())
        return _ticket_response(self._execute(principal, request, ticket_id, [["add_tag", body]]))

    @api("DELETE", "/v1/tickets/<ticket_id>/tags/<tag>", doc=RouteDoc(
        "Remove a tag (staff)", STAFF, response=schemas.Ticket, if_match=True, tags=("tickets",)))
    def remove_tag(self, request, ticket_id, tag):
        principal = self._caller(request, STAFF)
        return _ticket_response(self._execute(principal, request, ticket_id, [["remove_tag", {"tag": tag}]],
                                              idempotency=False))

    @api("POST", "/v1/tickets/<ticket_id>/status", doc=RouteDoc(
        "Change the status (see docs/tickets.md for the transition table)", ANYONE_IN_STORE,
        schemas.StatusRequest, response=schemas.Ticket, idempotent_post=True, if_match=True, tags=("tickets",)))
    def change_status(self, request, ticket_id):
        principal = self._caller(request, ANYONE_IN_STORE)
        body = load_json(request, schemas.StatusRequest())
        return _ticket_response(self._execute(principal, request, ticket_id, [["change_status", body]]))

    @api("POST", "/v1/tickets/<ticket_id>/rating", doc=RouteDoc(
        "Rate a solved or closed ticket, once (the customer)", CUSTOMER, schemas.RatingRequest,
        response=schemas.Ticket, idempotent_post=True, tags=("tickets",)))
    def rate(self, request, ticket_id):
        principal = self._caller(request, CUSTOMER)
        body = load_json(request, schemas.RatingRequest())
        return _ticket_response(self._execute(principal, request, ticket_id, [["rate", body]]))

    def _execute(self, principal, request, ticket_id, steps, idempotency=True, body=None):
        _check_ticket_id(ticket_id)
        key = _idempotency(request, steps if body is None else body) if idempotency else None
        return self.tickets.execute(principal.as_caller(), ticket_id, steps, _if_match(request), key)

    def _require_agent(self, principal, ticket_id, agent_id):
        try:
            self.identity.require_agent(principal.store_id, agent_id)
        except Exception:
            # Another store's ticket is a 404 before anything is said about the agent.
            self.tickets.get(principal.as_caller(), _checked(ticket_id))
            raise

    # --- events -------------------------------------------------------------------

    @api("GET", "/v1/events", doc=RouteDoc(
        "The store's events in global order, as CloudEvents (the platform key sees every store)",
        STAFF + PLATFORM, query=schemas.EventsQuery, response=schemas.EventPage, tags=("events",)))
    def events(self, request):
        principal = self._caller(request, STAFF + PLATFORM)
        query = load_query(request, schemas.EventsQuery())
        if principal.kind == "platform":
            store_id = query.get("store_id")
        elif "store_id" in query:
            raise Forbidden("field_not_allowed", "a store's token reads its own store's events",
                            {"store_id": ["only the platform key may choose the store"]})
        else:
            store_id = principal.store_id
        return json_response(200, self.tickets.events(store_id, query["after"], query["limit"]))

    # --- documents and health ------------------------------------------------------------

    @api("GET", "/v1/openapi.json", doc=RouteDoc("This document", tags=("meta",)))
    def openapi(self, request):
        return json_response(200, openapi_document(type(self)))

    @api("GET", "/health/live", doc=RouteDoc("The process answers", tags=("meta",)))
    def live(self, request):
        return json_response(200, {"status": "ok"})

    @api("GET", "/health/ready", doc=RouteDoc("The database and RabbitMQ answer", tags=("meta",)))
    def ready(self, request):
        checks = {}
        try:
            self.identity.db.health()
            checks["database"] = "ok"
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            checks["database"] = f"error: {exc.__class__.__name__}"
        try:
            with kombu.Connection(config.load("gateway").amqp_uri, connect_timeout=HEALTH_TIMEOUT) as conn:
                conn.ensure_connection(max_retries=1)
            checks["rabbitmq"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["rabbitmq"] = f"error: {exc.__class__.__name__}"
        ok = all(v == "ok" for v in checks.values())
        return json_response(200 if ok else 503, {"status": "ok" if ok else "unavailable", "checks": checks})

    @api("GET", "/health", doc=RouteDoc("Every service's health, over RPC", tags=("meta",)))
    def health(self, request):
        report, calls = {}, {}
        for name in BACKENDS:
            try:
                calls[name] = getattr(self, name)._proxy.health.call_async()
            except Exception as exc:  # e.g. UnknownService: it never started on this broker
                report[name] = {"error": repr(exc)}
        for name, call in calls.items():
            try:
                with eventlet.Timeout(HEALTH_TIMEOUT, False):
                    report[name] = call.result()
            except Exception as exc:  # the service answered with an error
                report[name] = {"error": repr(exc)}
            if name not in report:
                report[name] = {"error": f"no answer within {HEALTH_TIMEOUT}s"}
        healthy = not any("error" in r for r in report.values())
        return json_response(200 if healthy else 503,
                             {"status": "ok" if healthy else "degraded", "services": report})

    @api("GET,POST,PUT,PATCH,DELETE", "/<path:path>", doc=None)
    def no_route(self, request, path):
        return problem(404, "no_route", f"no route {request.method} /{path}; see /v1/openapi.json")


# --- request details ------------------------------------------------------------------


def _check_path_id(name: str, value: str) -> None:
    try:
        schemas.ID(value)
    except ValidationError as exc:
        raise BadRequest("invalid_request", f"{name} is not a valid id", {name: exc.messages}) from None


def _check_ticket_id(ticket_id: str) -> None:
    # Ticket ids are UUIDs: anything else cannot name a ticket.
    if not UUID.match(ticket_id):
        raise NotFound("ticket_not_found", f"no ticket {ticket_id}")


def _checked(ticket_id: str) -> str:
    _check_ticket_id(ticket_id)
    return ticket_id


def _if_match(request) -> int | None:
    raw = request.headers.get("If-Match")
    if raw is None or raw.strip() == "*":
        return None
    match = ETAG.match(raw.strip())
    if not match:
        raise BadRequest("invalid_request", "If-Match must be the ETag of a ticket response",
                         {"If-Match": ['expected a version like "7"']})
    return int(match[1])


def _idempotency(request, body) -> list | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not KEY.match(key):
        raise BadRequest("invalid_request", "Idempotency-Key must be 1 to 255 visible ASCII characters",
                         {"Idempotency-Key": ["1 to 255 visible ASCII characters"]})
    return [key, fingerprint(request.method, request.path, body)]


def _etag(ticket: dict) -> str:
    return f'"{ticket["version"]}"'


def _ticket_response(result: dict):
    ticket = result["ticket"]
    headers = {"ETag": _etag(ticket)}
    if result["status"] == 201:
        headers["Location"] = f"/v1/tickets/{ticket['id']}"
    if result.get("replayed"):
        headers["Idempotent-Replayed"] = "true"
    return json_response(result["status"], ticket, headers)


def _created(status: int, body: dict, location: str | None):
    return json_response(status, body, {"Location": location} if location else {})

