"""The OpenAPI 3 document, generated from the route declarations
(``routing.route``) and their schemas, so the document cannot drift from
what the gateway enforces, validates and answers."""
from __future__ import annotations

from functools import lru_cache

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from .attachments import ALLOWED_TYPES
from .routing import PATH_PARAM, Route, routes
from .schemas.meta import Problem
from .schemas.tickets import Attachment, UploadedAttachment

ERROR_STATUSES = {400: "Invalid request", 401: "Missing or invalid token", 403: "Not allowed for this role",
                  404: "Not found in the caller's store", 409: "Refused by the object's state",
                  412: "If-Match names a stale version", 422: "Refused by a business rule"}
UPLOAD_STATUSES = {413: "The file is over the size limit", 415: "A file type the route does not take"}
JSON_BODY_STATUSES = {415: "A body that is not application/json"}  # http.load_json
SUCCESS = {200: "OK", 201: "Created", 202: "Accepted: it is sent from the event log", 204: "Done: no content"}
BINARY = {"type": "string", "format": "binary"}


def openapi_path(rule: str) -> str:
    return PATH_PARAM.sub(r"{\1}", rule)


def body_statuses(doc: Route) -> dict[int, str]:
    """The refusals of a route that reads a body: of a type it does not take (415), or too large (413)."""
    if doc.upload is not None or doc.raw_body is not None:
        return UPLOAD_STATUSES
    return JSON_BODY_STATUSES if doc.body is not None else {}


@lru_cache(maxsize=4)
def openapi_document(service_cls) -> dict:
    spec = APISpec(
        title="Seed helpdesk API", version="1.0.0", openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={"description": "Tickets, stores and staff of the Seed helpdesk. Errors are "
                             "application/problem+json (see the Problem schema)."},
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Problem", schema=Problem)
    # Named by the oneOf of a message's attachments (schemas.tickets.AttachmentRef).
    spec.components.schema("Attachment", schema=Attachment)
    spec.components.schema("UploadedAttachment", schema=UploadedAttachment)
    paths: dict[str, dict] = {}
    for doc in routes(service_cls):
        method, rule = doc.method, doc.rule
        operation: dict = {"summary": doc.summary, "tags": list(doc.tags), "responses": {}}
        parameters = [{"in": "path", "name": name, "required": True, "schema": {"type": "string"}}
                      for name in doc.path_params]
        if doc.query is not None:
            parameters.append({"in": "query", "schema": doc.query})
        if doc.idempotent:
            parameters.append({"in": "header", "name": "Idempotency-Key", "required": False,
                               "schema": {"type": "string", "maxLength": 255},
                               "description": "the same key and body returns the first response again"})
        if doc.if_match:
            parameters.append({"in": "header", "name": "If-Match", "required": False,
                               "schema": {"type": "string"},
                               "description": f"the ETag of the {doc.if_match}; a stale one answers 412"})
        if parameters:
            operation["parameters"] = parameters
        if doc.body is not None:
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": doc.body}}}
        elif doc.upload is not None:
            form = {"type": "object", "required": [doc.upload], "properties": {doc.upload: BINARY}}
            operation["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": form}}}
        elif doc.raw_body is not None:
            operation["requestBody"] = {"required": True, "content": {doc.raw_body: {"schema": {"type": "string"}}}}
        if doc.roles:
            operation["security"] = [{"bearer": []}]
            operation["description"] = f"Allowed: {', '.join(doc.roles)}."
        statuses = {doc.status} | ({201} if doc.may_create else set()) | ({204} if doc.may_be_empty else set())
        for status in sorted(statuses):
            success: dict = {"description": SUCCESS[status]}
            if doc.response is not None and status != 204:
                success["content"] = {"application/json": {"schema": doc.response}}
                if doc.csv is not None:
                    success["content"]["text/csv"] = {"schema": {"type": "string"}}
                    success["description"] += "; with Accept: text/csv, the same rows as CSV"
            elif doc.download:
                success["content"] = {kind: {"schema": BINARY} for kind in ALLOWED_TYPES}
                success["description"] = "The file, with its own Content-Type"
            operation["responses"][str(status)] = success
        if doc.degraded:
            operation["responses"]["503"] = {"description": "Something it reports on does not answer",
                                             "content": {"application/json": {"schema": doc.response}}}
        for status, text in {**ERROR_STATUSES, **body_statuses(doc)}.items():
            if status == 401 and not doc.roles:
                continue
            operation["responses"][str(status)] = {
                "description": text, "content": {"application/problem+json": {"schema": "Problem"}}}
        paths.setdefault(openapi_path(rule), {})[method.lower()] = operation
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()
