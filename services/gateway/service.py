"""The HTTP gateway: ``/v1`` JSON API for store front-ends, agents and integrations.

Thin routes: authenticate, validate with ``schemas``, call the identity store
or a service over RPC, answer JSON. Errors become problem responses in
``http.response_for_error``; the OpenAPI document is built from these routes.
The self-service, canned-response and attachment routes are in ``selfservice``,
the notification and webhook routes in ``notifications_routes`` (base classes:
Nameko finds entrypoints there too).
"""
from __future__ import annotations

import os

import eventlet
import kombu
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge
from werkzeug.wrappers import Response

from seedwork import config
from seedwork.errors import Forbidden, InvalidCommand, NotFound

from . import csvfile, schemas
from .common import (
    ADMIN, ANYONE_IN_STORE, CUSTOMER, PLATFORM, STAFF, check_ticket_id as _check_ticket_id,
    checked_customer_id as _customer, checked_order_id as _order, checked_ticket_id as _checked,
    checked_uuid as _uuid, created as _created,
    etag as _etag, idempotency as _idempotency, if_match as _if_match, replayed as _replayed,
    resource_response, ticket_query as _ticket_query, ticket_response as _ticket_response,
)
from .dependencies import IdentityStore, TimedRpc
from .http import (
    BadRequest, PayloadTooLarge, RouteDoc, UnsupportedMediaType, api, json_response, load_json, load_query, problem,
)
from .openapi import openapi_document
# The module, not the class: `nameko run` starts every entrypoint-bearing class it finds here.
from . import notifications_routes, selfservice

BACKENDS = ("tickets", "customers", "notifications")
HEALTH_TIMEOUT = 3.0
IMPORT_MAX_BYTES = 50 * 1024 * 1024  # default of the env var of the same name


class GatewayService(selfservice.SelfServiceRoutes, notifications_routes.NotificationRoutes):
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
        # Only a customer of the store gets a session (else 404 customer_not_found).
        self.customers.standing(principal.store_id, _customer(customer_id))
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
        self._check_ticket_customer(principal, body.get("customer_id"))
        result = self.tickets.open(principal.as_caller(), body, _idempotency(request, body))
        return _ticket_response(result)

    @api("GET", "/v1/tickets", doc=RouteDoc("List tickets (a customer sees their own)", ANYONE_IN_STORE,
                                            query=schemas.TicketQuery, response=schemas.TicketList,
                                            tags=("tickets",)))
    def list_tickets(self, request):
        principal = self._caller(request, ANYONE_IN_STORE)
        query = _ticket_query(request, schemas.TicketQuery())
        return json_response(200, self.tickets.list(principal.as_caller(), query))

    @api("GET", "/v1/tickets/<ticket_id>", doc=RouteDoc("A ticket, now or `as_of` a past moment",
                                                        ANYONE_IN_STORE + PLATFORM, query=schemas.TicketGetQuery,
                                                        response=schemas.Ticket, tags=("tickets",)))
    def get_ticket(self, request, ticket_id):
        principal = self._caller(request, ANYONE_IN_STORE + PLATFORM)
        query = load_query(request, schemas.TicketGetQuery())
        _check_ticket_id(ticket_id)
        as_of = query.get("as_of")
        ticket = self.tickets.get(principal.as_caller(), ticket_id, as_of.isoformat() if as_of else None)
        return json_response(200, ticket, {"ETag": _etag(ticket)})

    @api("GET", "/v1/tickets/<ticket_id>/history", doc=RouteDoc("The ticket's events as a timeline",
                                                                ANYONE_IN_STORE + PLATFORM, response=schemas.History,
                                                                tags=("tickets",)))
    def ticket_history(self, request, ticket_id):
        principal = self._caller(request, ANYONE_IN_STORE + PLATFORM)
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
        "Reply publicly: a body and/or attachments; staff may send a canned response instead of a body, "
        "and an internal note with it", ANYONE_IN_STORE + PLATFORM, schemas.MessageCreate, response=schemas.Ticket,
        idempotent_post=True, if_match=True, tags=("tickets",)))
    def reply(self, request, ticket_id):
        principal = self._caller(request, ANYONE_IN_STORE + PLATFORM)
        body = load_json(request, schemas.MessageCreate())
        _check_ticket_id(ticket_id)
        return _ticket_response(self._execute(principal, request, ticket_id, self._reply_steps(principal, body),
                                              body=body))

    def _reply_steps(self, principal, body: dict) -> list:
        # Canned responses belong to a store's staff; the platform's review team may add notes.
        if "canned_response_id" in body and not principal.is_staff:
            raise Forbidden("field_not_allowed", "canned responses are sent by the store's staff",
                            {"canned_response_id": ["only staff may send this field"]})
        if "note" in body and principal.role == "customer":
            raise Forbidden("field_not_allowed", "notes are internal: only staff write them",
                            {"note": ["only staff may send this field"]})
        reply = {k: body[k] for k in ("body", "attachments", "canned_response_id") if k in body}
        if "canned_response_id" in body:
            # The placeholders the ticket cannot know; the tickets service fills the others.
            reply["context"] = {"store_name": self.identity.get_store(principal, principal.store_id)["name"],
                                "agent_name": self.identity.get_agent(principal, principal.id)["name"]}
        steps = [["reply", reply]]
        if "note" in body:
            steps.append(["note", {"body": body["note"]}])
        return steps

    @api("POST", "/v1/tickets/<ticket_id>/notes", doc=RouteDoc(
        "Add an internal note (staff; never shown to the customer)", STAFF + PLATFORM, schemas.NoteCreate,
        response=schemas.Ticket, idempotent_post=True, if_match=True, tags=("tickets",)))
    def note(self, request, ticket_id):
        principal = self._caller(request, STAFF + PLATFORM)
        body = load_json(request, schemas.NoteCreate())
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
        "Change the status (see docs/tickets.md for the transition table)", ANYONE_IN_STORE + PLATFORM,
        schemas.StatusRequest, response=schemas.Ticket, idempotent_post=True, if_match=True, tags=("tickets",)))
    def change_status(self, request, ticket_id):
        principal = self._caller(request, ANYONE_IN_STORE + PLATFORM)
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

    def _check_ticket_customer(self, principal, customer_id):
        if principal.role == "customer":
            if self.customers.standing(principal.store_id, principal.id)["blocked"]:
                raise Forbidden("customer_blocked", "the store has blocked you: you cannot open new tickets; "
                                                    "your open tickets stay open")
        elif customer_id is not None:
            try:
                self.customers.standing(principal.store_id, customer_id)
            except NotFound:
                raise InvalidCommand.field("customer_id", "no such customer in this store") from None

    def _require_agent(self, principal, ticket_id, agent_id):
        try:
            self.identity.require_agent(principal.store_id, agent_id)
        except Exception:
            # Another store's ticket is a 404 before anything is said about the agent.
            self.tickets.get(principal.as_caller(), _checked(ticket_id))
            raise

    # --- customers ----------------------------------------------------------------

    @api("POST", "/v1/customers", doc=RouteDoc("Add a customer card", STAFF, schemas.CustomerCreate,
                                               response=schemas.Customer, status=201, idempotent_post=True,
                                               tags=("customers",)))
    def create_customer(self, request):
        principal = self._caller(request, STAFF)
        body = load_json(request, schemas.CustomerCreate())
        return _customer_response(self.customers.create(principal.as_caller(), body, _idempotency(request, body)))

    @api("GET", "/v1/customers", doc=RouteDoc("List, search and filter the store's customers", STAFF,
                                              query=schemas.CustomerQuery, response=schemas.CustomerList,
                                              tags=("customers",)))
    def list_customers(self, request):
        principal = self._caller(request, STAFF)
        query = load_query(request, schemas.CustomerQuery())
        return json_response(200, self.customers.list(principal.as_caller(), query))

    @api("GET", "/v1/customers/<customer_id>", doc=RouteDoc("A customer card", STAFF, response=schemas.Customer,
                                                            tags=("customers",)))
    def get_customer(self, request, customer_id):
        principal = self._caller(request, STAFF)
        customer = self.customers.get(principal.as_caller(), _customer(customer_id))
        return json_response(200, customer, {"ETag": _etag(customer)})

    @api("PATCH", "/v1/customers/<customer_id>", doc=RouteDoc(
        "Change a customer card's fields (null clears an optional one)", STAFF, schemas.CustomerUpdate,
        response=schemas.Customer, if_match=True, tags=("customers",)))
    def update_customer(self, request, customer_id):
        principal = self._caller(request, STAFF)
        body = load_json(request, schemas.CustomerUpdate())
        return _customer_response(self.customers.update(principal.as_caller(), _customer(customer_id), body,
                                                        _if_match(request, "customer"), None))

    @api("POST", "/v1/customers/<customer_id>/block", doc=RouteDoc(
        "Block a customer: they cannot open new tickets", STAFF, schemas.BlockRequest, response=schemas.Customer,
        idempotent_post=True, tags=("customers",)))
    def block_customer(self, request, customer_id):
        principal = self._caller(request, STAFF)
        body = load_json(request, schemas.BlockRequest())
        return _customer_response(self.customers.block(principal.as_caller(), _customer(customer_id), body,
                                                       _idempotency(request, body)))

    @api("POST", "/v1/customers/<customer_id>/unblock", doc=RouteDoc(
        "Unblock a customer", STAFF, schemas.NoFields, response=schemas.Customer, idempotent_post=True,
        tags=("customers",)))
    def unblock_customer(self, request, customer_id):
        principal = self._caller(request, STAFF)
        body = load_json(request, schemas.NoFields())
        return _customer_response(self.customers.unblock(principal.as_caller(), _customer(customer_id),
                                                         _idempotency(request, body)))

    @api("GET", "/v1/customers/<customer_id>/orders", doc=RouteDoc(
        "The customer's orders, newest first", STAFF, query=schemas.PageQuery, response=schemas.OrderList,
        tags=("customers",)))
    def customer_orders(self, request, customer_id):
        principal = self._caller(request, STAFF)
        query = load_query(request, schemas.PageQuery())
        return json_response(200, self.customers.orders(principal.as_caller(), _customer(customer_id), query))

    @api("GET", "/v1/customers/<customer_id>/payment-options", doc=RouteDoc(
        "Whether the customer may pay cash on delivery (staff, or the customer themself)", STAFF + CUSTOMER,
        response=schemas.PaymentOptions, tags=("customers",)))
    def payment_options(self, request, customer_id):
        principal = self._caller(request, STAFF + CUSTOMER)
        _customer(customer_id)
        if principal.role == "customer" and principal.id != customer_id:
            raise NotFound("customer_not_found", f"no customer {customer_id}")
        return json_response(200, self.customers.payment_options(principal.as_caller(), customer_id))

    @api("POST", "/v1/customers/<customer_id>/rating-requests", doc=RouteDoc(
        "Ask the customer to rate their delivered orders (sent on the store's rating channel)", STAFF,
        schemas.NoFields, response=schemas.CustomerRatingRequest, status=202, idempotent_post=True,
        tags=("customers",)))
    def request_rating(self, request, customer_id):
        principal = self._caller(request, STAFF)
        body = load_json(request, schemas.NoFields())
        result = self.customers.request_rating(principal.as_caller(), _customer(customer_id),
                                               _idempotency(request, body))
        return json_response(result["status"], result["request"], _replayed(result))

    @api("POST", "/v1/customers/<customer_id>/messages", doc=RouteDoc(
        "Send the customer an SMS or an email", STAFF, schemas.CustomerMessageCreate,
        response=schemas.CustomerMessage, status=202, idempotent_post=True, tags=("customers",)))
    def message_customer(self, request, customer_id):
        principal = self._caller(request, STAFF)
        body = load_json(request, schemas.CustomerMessageCreate())
        result = self.customers.send_message(principal.as_caller(), _customer(customer_id), body,
                                             _idempotency(request, body))
        return json_response(result["status"], result["message"], _replayed(result))

    @api("POST", "/v1/customers/import", doc=RouteDoc(
        "Import customers from a CSV file sent as the text/csv body (UTF-8, a header row naming the columns): "
        "a new mobile is a new card, a known one updates it", ADMIN, response=schemas.ImportResult,
        tags=("customers",)))
    def import_customers(self, request):
        principal = self._caller(request, ADMIN)
        stream, limit = _csv_body(request)
        caller = principal.as_caller()
        try:
            result = csvfile.import_file(stream, lambda rows: self.customers.import_rows(caller, rows))
        except RequestEntityTooLarge:
            raise _too_large(limit) from None
        except ClientDisconnected:
            raise BadRequest("incomplete_body", "the body ended before its Content-Length") from None
        return json_response(200, result)

    # --- customer groups -----------------------------------------------------------------

    @api("POST", "/v1/customer-groups", doc=RouteDoc("Create a customer group", STAFF, schemas.GroupWrite,
                                                     response=schemas.Group, status=201, idempotent_post=True,
                                                     tags=("customers",)))
    def create_group(self, request):
        principal = self._caller(request, STAFF)
        body = load_json(request, schemas.GroupWrite())
        result = self.customers.create_group(principal.as_caller(), body, _idempotency(request, body))
        group = result["group"]
        headers = {"Location": f"/v1/customer-groups/{group['id']}"} if result["status"] == 201 else {}
        return json_response(result["status"], group, {**headers, **_replayed(result)})

    @api("GET", "/v1/customer-groups", doc=RouteDoc("The store's customer groups", STAFF,
                                                    response=schemas.GroupList, tags=("customers",)))
    def list_groups(self, request):
        principal = self._caller(request, STAFF)
        return json_response(200, self.customers.list_groups(principal.as_caller()))

    @api("GET", "/v1/customer-groups/<group_id>", doc=RouteDoc("A customer group", STAFF, response=schemas.Group,
                                                               tags=("customers",)))
    def get_group(self, request, group_id):
        principal = self._caller(request, STAFF)
        return json_response(200, self.customers.get_group(principal.as_caller(), _group(group_id)))

    @api("PATCH", "/v1/customer-groups/<group_id>", doc=RouteDoc("Rename a customer group", STAFF,
                                                                 schemas.GroupWrite, response=schemas.Group,
                                                                 tags=("customers",)))
    def rename_group(self, request, group_id):
        principal = self._caller(request, STAFF)
        body = load_json(request, schemas.GroupWrite())
        result = self.customers.rename_group(principal.as_caller(), _group(group_id), body)
        return json_response(result["status"], result["group"])

    @api("DELETE", "/v1/customer-groups/<group_id>", doc=RouteDoc(
        "Delete a customer group (its customers stay)", STAFF, status=204, tags=("customers",)))
    def delete_group(self, request, group_id):
        principal = self._caller(request, STAFF)
        result = self.customers.delete_group(principal.as_caller(), _group(group_id))
        return Response(status=result["status"])

    @api("POST", "/v1/customer-groups/<group_id>/members", doc=RouteDoc(
        "Add customers to a group: by ids (up to 10,000) or every customer a list filter matches", STAFF,
        schemas.GroupMembers, response=schemas.MembersChanged, tags=("customers",)))
    def add_members(self, request, group_id):
        return self._change_members(request, group_id, "add")

    @api("DELETE", "/v1/customer-groups/<group_id>/members", doc=RouteDoc(
        "Remove customers from a group: by ids (up to 10,000) or every customer a list filter matches", STAFF,
        schemas.GroupMembers, response=schemas.MembersChanged, tags=("customers",)))
    def remove_members(self, request, group_id):
        return self._change_members(request, group_id, "remove")

    def _change_members(self, request, group_id, op):
        principal = self._caller(request, STAFF)
        body = load_json(request, schemas.GroupMembers())
        return json_response(200, self.customers.change_members(principal.as_caller(), _group(group_id), op, body))

    # --- orders and settings ---------------------------------------------------------------

    @api("PUT", "/v1/orders/<order_id>", doc=RouteDoc(
        "Record the store platform's order as it is now (201 when new); an update older than the stored one "
        "changes nothing and answers the stored order with X-Order-Applied: false", ADMIN, schemas.OrderPut,
        response=schemas.Order, tags=("customers",)))
    def put_order(self, request, order_id):
        principal = self._caller(request, ADMIN)
        body = load_json(request, schemas.OrderPut())
        result = self.customers.put_order(principal.as_caller(), _order(order_id), body)
        order = result["order"]
        headers = {"X-Order-Applied": "true" if result["applied"] else "false"}
        if result["status"] == 201:
            headers["Location"] = f"/v1/orders/{order['id']}"
        return json_response(result["status"], order, headers)

    @api("GET", "/v1/orders/<order_id>", doc=RouteDoc("An order", STAFF, response=schemas.Order,
                                                      tags=("customers",)))
    def get_order(self, request, order_id):
        principal = self._caller(request, STAFF)
        return json_response(200, self.customers.get_order(principal.as_caller(), _order(order_id)))

    @api("GET", "/v1/settings/customers", doc=RouteDoc("The store's customer settings", STAFF,
                                                       response=schemas.CustomerSettings, tags=("customers",)))
    def customer_settings(self, request):
        principal = self._caller(request, STAFF)
        return json_response(200, self.customers.settings(principal.as_caller()))

    @api("PATCH", "/v1/settings/customers", doc=RouteDoc("Change the store's customer settings", ADMIN,
                                                         schemas.CustomerSettingsUpdate,
                                                         response=schemas.CustomerSettings, tags=("customers",)))
    def update_customer_settings(self, request):
        principal = self._caller(request, ADMIN)
        body = load_json(request, schemas.CustomerSettingsUpdate())
        return json_response(200, self.customers.update_settings(principal.as_caller(), body))

    # --- fraud flags (platform) ---------------------------------------------------------------

    @api("GET", "/v1/platform/flags", doc=RouteDoc("Fraud flags on shoppers, across every store", PLATFORM,
                                                   query=schemas.FlagQuery, response=schemas.FlagList,
                                                   tags=("platform",)))
    def list_flags(self, request):
        self._caller(request, PLATFORM)
        query = load_query(request, schemas.FlagQuery())
        return json_response(200, self.customers.list_flags(query))

    @api("POST", "/v1/platform/flags/<flag_id>/clear", doc=RouteDoc(
        "Clear a fraud flag after review (its evidence stays spent)", PLATFORM, schemas.FlagClear,
        response=schemas.PlatformFlag, tags=("platform",)))
    def clear_flag(self, request, flag_id):
        principal = self._caller(request, PLATFORM)
        body = load_json(request, schemas.FlagClear())
        return json_response(200, self.customers.clear_flag(principal.as_caller(), _flag(flag_id), body))

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


def _group(group_id: str) -> str:
    return _uuid(group_id, "group_not_found", "customer group")


def _flag(flag_id: str) -> str:
    return _uuid(flag_id, "flag_not_found", "flag")


def _customer_response(result: dict):
    return resource_response(result, "customer", "/v1/customers")


def _csv_body(request):
    """The import's body as a stream, after its type and declared size pass."""
    if request.mimetype != "text/csv":
        raise UnsupportedMediaType("unsupported_media_type", "send the file as the body, Content-Type: text/csv")
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8", "us-ascii"):
        raise UnsupportedMediaType("unsupported_media_type", f"send the file as UTF-8, not {charset}")
    limit = int(os.environ.get("IMPORT_MAX_BYTES", IMPORT_MAX_BYTES))
    request.max_content_length = limit  # this request only: the class default stays unlimited
    if (request.content_length is None and "eventlet.input" in request.environ
            and request.headers.get("Transfer-Encoding", "").lower() == "chunked"):
        # eventlet ends a chunked body itself; without this flag werkzeug
        # would read a body of unknown length as empty.
        request.environ["wsgi.input_terminated"] = True
    try:
        return request.stream, limit
    except RequestEntityTooLarge:  # the Content-Length says so: nothing is read
        raise _too_large(limit) from None


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge("payload_too_large", f"the file is over {limit:,} bytes: split it and import each part")
