"""What every route module of the gateway shares: the roles, and the request
details read the same way everywhere (ids in paths, ``If-Match``,
``Idempotency-Key``) and the ticket answer with its ``ETag``."""
from __future__ import annotations

import re

from seedwork.errors import NotFound
from seedwork.idempotency import MAX_KEY_LENGTH, fingerprint

from .http import BadRequest, json_response, load_query

STAFF = ("owner", "admin", "agent")
ADMIN = ("owner", "admin")
CUSTOMER = ("customer",)
ANYONE_IN_STORE = STAFF + CUSTOMER
PLATFORM = ("platform",)

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
KEY = re.compile(r"^[\x21-\x7e]{1,%d}\Z" % MAX_KEY_LENGTH)  # visible ASCII
ETAG = re.compile(r'^(?:W/)?"?([0-9]{1,9})"?\Z')
ORDER_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,100}\Z")  # the store platform's own order ids


# --- ids in paths -------------------------------------------------------------------


def checked_uuid(value: str, code: str, what: str) -> str:
    # Customer, group, flag, canned response and attachment ids are UUIDs: anything else names nothing.
    if not UUID.match(value):
        raise NotFound(code, f"no {what} {value}")
    return value


def checked_customer_id(customer_id: str) -> str:
    return checked_uuid(customer_id, "customer_not_found", "customer")


def checked_order_id(order_id: str) -> str:
    if not ORDER_ID.match(order_id):
        raise NotFound("order_not_found", f"no order {order_id}")
    return order_id


def check_ticket_id(ticket_id: str) -> None:
    # Ticket ids are UUIDs: anything else cannot name a ticket.
    if not UUID.match(ticket_id):
        raise NotFound("ticket_not_found", f"no ticket {ticket_id}")


def checked_ticket_id(ticket_id: str) -> str:
    check_ticket_id(ticket_id)
    return ticket_id


# --- headers ----------------------------------------------------------------------


def if_match(request, of: str = "ticket") -> int | None:
    raw = request.headers.get("If-Match")
    if raw is None or raw.strip() == "*":
        return None
    match = ETAG.match(raw.strip())
    if not match:
        raise BadRequest("invalid_request", f"If-Match must be the ETag of a {of} response",
                         {"If-Match": ['expected a version like "7"']})
    return int(match[1])


def idempotency(request, body) -> list | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not KEY.match(key):
        raise BadRequest("invalid_request", "Idempotency-Key must be 1 to 255 visible ASCII characters",
                         {"Idempotency-Key": ["1 to 255 visible ASCII characters"]})
    return [key, fingerprint(request.method, request.path, body)]


def ticket_query(request, schema) -> dict:
    """A ticket list's query string; ``status`` and ``priority`` are comma-separated lists."""
    query = load_query(request, schema)
    for many in ("status", "priority"):
        query[many] = [v for v in query.get(many, "").split(",") if v]
    return query


# --- answers ----------------------------------------------------------------------


def etag(versioned: dict) -> str:
    return f'"{versioned["version"]}"'


def replayed(result: dict) -> dict:
    return {"Idempotent-Replayed": "true"} if result.get("replayed") else {}


def resource_response(result: dict, key: str, collection: str):
    """A service's ``{"status", key: resource, "replayed"?}`` as the HTTP
    answer: the resource, its ETag, and its Location when it was created."""
    resource = result[key]
    headers = {"ETag": etag(resource), **replayed(result)}
    if result["status"] == 201:
        headers["Location"] = f"{collection}/{resource['id']}"
    return json_response(result["status"], resource, headers)


def ticket_response(result: dict):
    return resource_response(result, "ticket", "/v1/tickets")


def created(status: int, body: dict, location: str | None):
    return json_response(status, body, {"Location": location} if location else {})
