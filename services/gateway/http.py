"""HTTP plumbing of the gateway: the entrypoint every route runs in (request
ids, the access log), JSON and problem responses, reading bodies and queries,
and the one table that maps errors to HTTP statuses. What each route does is
declared in ``routing.py``.

Every response carries ``X-Request-Id``; the id also travels in Nameko's
context data to every service the request calls, and into their log lines.
"""
from __future__ import annotations

import json
import logging
import re
import time
import uuid
from functools import partial

from eventlet.event import Event
from marshmallow import Schema, ValidationError
from nameko.exceptions import RpcTimeout, UnknownService
from nameko.web.handlers import HttpRequestHandler
from werkzeug.wrappers import Response

from seedwork.context import _current as _request_local
from seedwork.errors import (
    ConcurrencyConflict, Conflict, DomainError, Forbidden, IdempotencyKeyReused, InvalidCommand, InvalidQuery,
    NotFound, PreconditionFailed, ServiceUnavailable, Unauthenticated,
)

log = logging.getLogger("gateway.access")

PROBLEM_JSON = "application/problem+json"
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}\Z")


class BadRequest(DomainError):
    """The request itself is malformed: JSON, headers or fields (400)."""


class UnsupportedMediaType(DomainError):
    """A body of a type the route does not take: not JSON, or not CSV for an import (415)."""


class PayloadTooLarge(DomainError):
    """A body over the route's size limit (413)."""


# The one table: error class -> HTTP status. Subclasses come before bases.
STATUS_OF = (
    (BadRequest, 400),
    (InvalidQuery, 400),
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (PreconditionFailed, 412),
    (PayloadTooLarge, 413),
    (UnsupportedMediaType, 415),
    (IdempotencyKeyReused, 422),
    (InvalidCommand, 422),
    (Conflict, 409),
    (ServiceUnavailable, 503),
)

TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict",
          412: "Precondition Failed", 413: "Content Too Large", 415: "Unsupported Media Type",
          422: "Unprocessable Content", 500: "Internal Server Error", 503: "Service Unavailable"}


def problem(status: int, code: str, detail: str, errors: dict | None = None, request_id: str | None = None,
            headers: dict | None = None) -> Response:
    body = {
        "type": f"urn:seed:problem:{code}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "code": code,
        "detail": detail,
        "errors": errors or {},
    }
    if request_id:
        body["request_id"] = request_id
    return Response(json.dumps(body, ensure_ascii=False), status=status, headers=headers or {},
                    content_type=PROBLEM_JSON)


def response_for_error(exc: BaseException, request_id: str | None) -> Response:
    """Map any exception to a problem response; unknown ones to a bare 500."""
    if isinstance(exc, ConcurrencyConflict):
        return problem(409, "concurrency_conflict", "the ticket changed at the same time; retry", None, request_id)
    if isinstance(exc, (UnknownService, RpcTimeout)):
        return problem(503, "service_unavailable", "a service behind the gateway does not answer; retry later",
                       None, request_id, {"Retry-After": "1"})
    if isinstance(exc, DomainError):
        status = next((s for cls, s in STATUS_OF if isinstance(exc, cls)), 400)
        return problem(status, exc.code, exc.detail, exc.errors, request_id)
    log.error("unexpected error [%s]: %s", request_id, exc, exc_info=(type(exc), exc, exc.__traceback__))
    # No class names or stack traces reach the client: the request id finds them in the log.
    return problem(500, "internal_error", "unexpected error; the request id finds it in the logs", None, request_id)


def json_response(status: int, body, headers: dict | None = None) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status, headers=headers or {},
                    content_type="application/json")


# --- the entrypoint -------------------------------------------------------------


class ApiRoute(HttpRequestHandler):
    """The entrypoint of one route (``routing.route`` declares it). The worker
    method returns a werkzeug ``Response``; anything it raises is turned into
    ``application/problem+json`` by ``response_for_error``."""

    def __init__(self, method: str, url: str, expected_exceptions=DomainError, **kwargs):
        # A refusal is an answer (a problem response), not a fault of the gateway.
        super().__init__(method, url, expected_exceptions=expected_exceptions, **kwargs)

    def handle_request(self, request):
        request.shallow = False
        started = time.perf_counter()
        offered = request.headers.get("X-Request-Id", "")
        request_id = offered if REQUEST_ID.match(offered) else uuid.uuid4().hex
        _request_local.request_id = request_id  # this green thread's log lines
        try:
            args, kwargs = self.get_entrypoint_parameters(request)
            self.check_signature(args, kwargs)
            done = Event()
            # Only the request id becomes context data: clients do not get to
            # set Nameko's other context keys through headers.
            self.container.spawn_worker(
                self, args, kwargs, context_data={"request_id": request_id},
                handle_result=partial(self.handle_result, done))
            response = done.wait()
        except Exception as exc:  # noqa: BLE001 - every error becomes a problem response
            response = response_for_error(exc, request_id)
        response.headers["X-Request-Id"] = request_id
        log.info("%s %s -> %d in %.1f ms", request.method, request.path, response.status_code,
                 (time.perf_counter() - started) * 1000)
        _request_local.request_id = None
        return response


# --- request parsing --------------------------------------------------------------


def load_json(request, schema: Schema) -> dict:
    """The validated body; 400 naming every bad field, or 415 for non-JSON."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        data = {}
    else:
        mimetype = request.mimetype or ""
        if mimetype and mimetype != "application/json" and not mimetype.endswith("+json"):
            raise UnsupportedMediaType("unsupported_media_type", "send the body as application/json")
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest("malformed_json", f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequest("invalid_request", "the body must be a JSON object", {"_schema": ["expected an object"]})
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise BadRequest("invalid_request", "some fields are invalid", _flatten(exc.messages)) from None


def load_query(request, schema: Schema) -> dict:
    try:
        return schema.load(request.args.to_dict(flat=True))
    except ValidationError as exc:
        raise BadRequest("invalid_request", "some query parameters are invalid", _flatten(exc.messages)) from None


def _flatten(messages, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as {"attachments.0.url": [...]}."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, list):
        out[prefix or "_schema"] = [str(m) for m in messages]
        return out
    for key, value in messages.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            out.update(_flatten(value, name))
        else:
            out[name] = [str(m) for m in value]
    return out
