"""Routes declared once: ``@route(...)`` says who may call, what comes in and
what goes out, and the gateway does it.

A route handler receives a ``Call`` (the typed caller, the validated body
and query, the request's ``Idempotency-Key`` and ``If-Match``) and the
checked ids of its path, and returns what the service behind it answered.
Everything else is read from the declaration, in this order:

1. authenticate the bearer token, and refuse a role the route does not name
   (401, 403);
2. check each id in the path by its name (``ticket_id`` must look like a
   ticket's id, or the answer is the ticket's 404);
3. load and validate the query and the JSON body with their schemas (400,
   415), masking card numbers in free text as they are loaded;
4. call the handler;
5. answer: the resource (the declared ``resource`` key of the service's
   result, or the result itself), shaped by the response schema (only
   declared fields leave the gateway), with the status the route declares
   (``created: False`` in the result turns a 201 into a 200), its ``ETag``,
   its ``Location`` when created, and ``Idempotent-Replayed`` on a replay.

The OpenAPI document (``openapi.py``) is generated from the same declarations,
so the roles, bodies and answers it shows are the ones enforced.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from functools import cached_property, wraps
from typing import Any, Callable

from marshmallow import Schema
from werkzeug.wrappers import Response

from seedwork.caller import Caller
from seedwork.errors import Forbidden, NotFound
from seedwork.idempotency import MAX_KEY_LENGTH, fingerprint

from .http import BadRequest, ApiRoute, json_response, load_json, load_query
from .schemas.fields import LOCALES, ORDER_ID
from .shapes import shape_of

STAFF = ("owner", "admin", "agent")
ADMIN = ("owner", "admin")
CUSTOMER = ("customer",)
ANYONE_IN_STORE = STAFF + CUSTOMER
PLATFORM = ("platform",)

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
ORDER = re.compile(ORDER_ID)
TEMPLATE_KIND = re.compile(r"^[a-z_]{1,40}\Z")
KEY = re.compile(r"^[\x21-\x7e]{1,%d}\Z" % MAX_KEY_LENGTH)  # visible ASCII
ETAG = re.compile(r'^(?:W/)?"?([0-9]{1,9})"?\Z')
PATH_PARAM = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")  # a werkzeug rule's <name> or <converter:name>


# --- ids in paths, checked by their name ------------------------------------------------


def _id(pattern: re.Pattern, code: str, what: str, errors: Callable[[str], dict] | None = None):
    def check(value: str) -> str:
        if not pattern.match(value):
            raise NotFound(code, f"no {what} {value}", errors(value) if errors else None)
        return value
    return check


def _locale(value: str) -> str:
    if value not in LOCALES:
        raise NotFound("template_not_found", f"no template locale {value}",
                       {"locale": [f"one of {', '.join(LOCALES)}"]})
    return value


# A path parameter with one of these names can only name something of that
# shape: anything else is answered as not found before any service is asked.
PATH_IDS: dict[str, Callable[[str], str]] = {
    "ticket_id": _id(UUID, "ticket_not_found", "ticket"),
    "customer_id": _id(UUID, "customer_not_found", "customer"),
    "group_id": _id(UUID, "group_not_found", "customer group"),
    "flag_id": _id(UUID, "flag_not_found", "flag"),
    "canned_id": _id(UUID, "canned_response_not_found", "canned response"),
    "team_id": _id(UUID, "team_not_found", "team"),
    "topic_id": _id(UUID, "topic_not_found", "topic"),
    "rule_id": _id(UUID, "rule_not_found", "rule"),
    "attachment_id": _id(UUID, "attachment_not_found", "attachment"),
    "webhook_id": _id(UUID, "webhook_not_found", "webhook"),
    "delivery_id": _id(UUID, "delivery_not_found", "delivery"),
    "order_id": _id(ORDER, "order_not_found", "order"),
    "kind": _id(TEMPLATE_KIND, "template_not_found", "template kind",
                lambda _: {"kind": ["lowercase letters and _ (up to 40)"]}),
    "locale": _locale,
}


# --- what a handler gets --------------------------------------------------------------


@dataclass
class Call:
    """One request as its handler sees it: who calls, and what they sent, validated."""

    request: Any  # werkzeug's Request: for what no declaration covers (a streamed file)
    caller: Caller | None
    body: dict | None = None
    query: dict | None = None
    idempotent: bool = False
    if_match_of: str | None = None

    @cached_property
    def idempotency(self) -> list | None:
        """``[key, fingerprint of the request]`` when the route takes an
        ``Idempotency-Key`` and the client sent one; else None."""
        key = self.request.headers.get("Idempotency-Key") if self.idempotent else None
        if key is None:
            return None
        if not KEY.match(key):
            raise BadRequest("invalid_request", "Idempotency-Key must be 1 to 255 visible ASCII characters",
                             {"Idempotency-Key": ["1 to 255 visible ASCII characters"]})
        return [key, fingerprint(self.request.method, self.request.path, self.body)]

    @cached_property
    def if_match(self) -> int | None:
        """The version ``If-Match`` names (None without one, or with ``*``)."""
        raw = self.request.headers.get("If-Match") if self.if_match_of else None
        if raw is None or raw.strip() == "*":
            return None
        match = ETAG.match(raw.strip())
        if not match:
            raise BadRequest("invalid_request", f"If-Match must be the ETag of a {self.if_match_of} response",
                             {"If-Match": ['expected a version like "7"']})
        return int(match[1])


@dataclass
class Answer:
    """A handler's answer with headers of its own (``X-Order-Applied``), or
    a status of its own (a health check's 503)."""

    result: Any
    headers: dict[str, str] = field(default_factory=dict)
    status: int | None = None


# Flags a service's result carries beside the resource; never sent as such.
FLAGS = ("created", "replayed", "applied", "status")
WHOLE = "*"  # a route's ``resource`` when the whole result (but its flags) is the answer


# --- the declaration --------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """Everything the gateway and its OpenAPI document know about one route."""

    method: str
    rule: str
    summary: str
    roles: tuple[str, ...] = ()  # empty: no token needed
    body: type[Schema] | None = None
    query: type[Schema] | None = None
    response: type[Schema] | None = None
    # The success status. A result that says whether it created the resource
    # answers 201 (created) or 200 (it existed); ``may_create`` documents both.
    status: int = 200
    may_create: bool = False
    may_be_empty: bool = False  # a handler's None is 204 ("nothing waits"), beside the success status
    # The key of the service's result that holds the resource; the result's
    # other keys are flags (``created``, ``replayed``). None: the result is the answer.
    resource: str | None = None
    etag: bool = False  # answer the resource's version as its ETag
    location: str | None = None  # where a created resource lives, formatted with its fields
    idempotent: bool = False  # takes an Idempotency-Key
    if_match: str | None = None  # takes If-Match: the ETag of what ("ticket", "customer", ...)
    tags: tuple[str, ...] = ()
    upload: str | None = None  # the multipart/form-data part carrying a file, instead of a JSON body
    download: bool = False  # the answer is a file's bytes, not JSON
    degraded: bool = False  # answers 503 with the same body when something it reports on is down
    raw_body: str | None = None  # a body the handler streams itself (text/csv)
    # Also answers text/csv when the request's Accept prefers it: ``csv(answer)``
    # turns the JSON answer into (header, rows).
    csv: Callable[[Any], tuple[list[str], list[list]]] | None = field(default=None, compare=False)
    handler: Callable | None = field(default=None, compare=False, repr=False)

    # --- read from the declaration once, not per request -------------------------------

    @cached_property
    def path_params(self) -> tuple[str, ...]:
        """The names of the rule's parameters, in order (``<int:number>`` is ``number``)."""
        return tuple(PATH_PARAM.findall(self.rule))

    @property
    def answers_created(self) -> bool:
        """Whether the result's ``created`` sets the status: 201 when created, 200 when it existed."""
        return self.status == 201 or self.may_create

    # A schema instance keeps no state between loads (these schemas take no
    # context and no partial), so one serves every request.
    @cached_property
    def body_schema(self) -> Schema | None:
        return self.body() if self.body is not None else None

    @cached_property
    def query_schema(self) -> Schema | None:
        return self.query() if self.query is not None else None

    # --- the work, once per request ---------------------------------------------------

    def handle(self, service, request, path: dict[str, str]):
        caller = self._authorize(service, request)
        checked = {name: PATH_IDS[name](value) if name in PATH_IDS else value for name, value in path.items()}
        call = Call(request, caller, idempotent=self.idempotent, if_match_of=self.if_match)
        if self.query_schema is not None:
            call.query = load_query(request, self.query_schema)
        if self.body_schema is not None:
            call.body = load_json(request, self.body_schema)
        returned = self.handler(service, call, **checked)
        if self.csv is not None and prefers_csv(request):
            return csv_response(*self.csv(returned))
        return self.answer(returned, service.config.check_responses)

    def _authorize(self, service, request) -> Caller | None:
        if not self.roles:
            return None
        caller = service.identity.authenticate(request.headers.get("Authorization"))
        if caller.role not in self.roles:
            raise Forbidden("forbidden", f"a {caller.role} may not do this")
        return caller

    def answer(self, returned, check: bool = False) -> Response:
        """The HTTP answer to what the handler returned."""
        if isinstance(returned, Response):
            return returned
        headers, status_of_its_own = {}, None
        if isinstance(returned, Answer):
            returned, headers, status_of_its_own = returned.result, dict(returned.headers), returned.status
        if returned is None:
            return Response(status=204 if self.status == 204 or self.may_be_empty else 200, headers=headers)
        status, body = self.status, returned
        if self.resource is not None:  # a service's result: the resource, and what happened to it
            created = returned.get("created")
            if created is None and "status" in returned:
                # Idempotency records stored before the refactor kept the HTTP status, not
                # "created"; their keys never expire, so their replays still answer this way.
                created = {201: True, 200: False}.get(returned["status"])
            # Only a route that creates answers by it: a 202 stays a 202 whatever the service says.
            if created is not None and self.answers_created:
                status = 201 if created else 200
            if returned.get("replayed"):
                headers["Idempotent-Replayed"] = "true"
            body = returned[self.resource] if self.resource != WHOLE else {
                k: v for k, v in returned.items() if k not in FLAGS}
        status = status_of_its_own or status
        if self.etag:
            headers["ETag"] = f'"{body["version"]}"'
        if self.location and status == 201:
            headers["Location"] = self.location.format(**body)
        if self.response is not None:
            body = shape_of(self.response).answer(body, f"{self.method} {self.rule}", check)
        return json_response(status, body, headers)


def prefers_csv(request) -> bool:
    """``Accept: text/csv`` (over JSON, when both are named)."""
    accept = request.accept_mimetypes
    return accept.quality("text/csv") > accept.quality("application/json") if "text/csv" in accept else False


def csv_response(header: list[str], rows: list[list]) -> Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([csv_cell(value) for value in row] for row in rows)
    return Response(out.getvalue(), status=200, content_type="text/csv; charset=utf-8")


def csv_cell(value: Any) -> Any:
    """A cell a spreadsheet shows as text: a tag or product name starting
    with ``=``, ``+``, ``-``, ``@`` (or a tab or CR) is not run as a formula."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def route(method: str, rule: str, summary: str, **declared) -> Callable:
    """``@route("POST", "/v1/tickets", "Open a ticket", roles=..., body=..., response=...)``
    over ``def handler(self, call, **path_ids)``: a gateway entrypoint."""
    def decorate(handler: Callable) -> Callable:
        declaration = Route(method, rule, summary, handler=handler, **declared)

        @wraps(handler)
        def entrypoint(self, request, *ids, **path):
            # Nameko passes the path's parameters by name; a direct call may pass them in the rule's order.
            return declaration.handle(self, request, {**dict(zip(declaration.path_params, ids)), **path})

        entrypoint.route = declaration
        return ApiRoute.decorator(method, rule)(entrypoint)
    return decorate


def routes(service_cls) -> list[Route]:
    """Every declared route of the class, its own and those it inherits (as
    Nameko finds them), one per method; an override hides its base."""
    found, seen = [], set()
    for cls in service_cls.__mro__:
        for name, attribute in vars(cls).items():
            if name in seen:
                continue
            seen.add(name)
            declaration = getattr(attribute, "route", None)
            if isinstance(declaration, Route):
                found.append(declaration)
    return found
