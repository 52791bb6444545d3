"""What a published OpenAPI 3.0 document promises about answers, held against
answers a running gateway gave: which documented operation a request is, and
whether its answer is one the document allows.

``Document(openapi)`` reads the document; ``Recorder(api, document)`` is an
HTTP client (``tests/support/api.Api``'s methods) that keeps every answer with
its operation; ``document.mismatch(answer)`` says how one answer differs
from its documentation, or None.

The check is strict, on a copy of the document: every object schema that
lists ``properties`` gets ``additionalProperties: false`` (an undocumented
field fails), the ``{"type": "object", "nullable": true}`` branch that stands
for null beside a ``$ref`` (how apispec writes a nullable nested schema) takes
only null, and null fails wherever the document does not say ``nullable``
(``OAS30Validator``).
"""
from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from jsonschema.exceptions import ValidationError, best_match
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from .api import Api

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
DOCUMENT_URI = "urn:seed:openapi"
NULL_BRANCH = {"type": "object", "nullable": True}  # apispec's "or null" beside a $ref
ONLY_NULL = {"type": "object", "nullable": True, "enum": [None]}


@dataclass(frozen=True, order=True)
class Operation:
    method: str  # upper case
    path: str  # the document's path template, /v1/tickets/{ticket_id}

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class Answer:
    """One HTTP answer, with the documented operation its request was (None: no operation matched)."""

    operation: Operation | None
    method: str
    path: str
    status: int
    content_type: str | None  # the media type, without parameters
    body: bytes

    @property
    def name(self) -> str:
        return str(self.operation) if self.operation else f"{self.method} {self.path} (undocumented)"


# --- the strict copy ---------------------------------------------------------------------------


def strict(document: dict) -> dict:
    """A copy of ``document`` whose schemas allow no undocumented field and no stand-in object for null."""
    document = copy.deepcopy(document)
    for schema in document.get("components", {}).get("schemas", {}).values():
        _tighten(schema)
    for item in document.get("paths", {}).values():
        for method in METHODS:
            for response in item.get(method, {}).get("responses", {}).values():
                for media in response.get("content", {}).values():
                    _tighten(media.get("schema"))
    return document


def _tighten(schema) -> None:
    if not isinstance(schema, dict):
        return
    if isinstance(schema.get("properties"), dict):
        schema["additionalProperties"] = False
        for child in schema["properties"].values():
            _tighten(child)
    for key in ("items", "not"):
        _tighten(schema.get(key))
    if isinstance(schema.get("additionalProperties"), dict):
        _tighten(schema["additionalProperties"])
    for key in ("allOf", "anyOf", "oneOf"):
        branches = schema.get(key)
        if not isinstance(branches, list):
            continue
        beside_a_ref = any("$ref" in b for b in branches if isinstance(b, dict))
        for n, branch in enumerate(branches):
            if beside_a_ref and branch == NULL_BRANCH:
                branches[n] = dict(ONLY_NULL)
            else:
                _tighten(branch)


def _pointer(*parts: str) -> str:
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def json_path(parts) -> str:
    """``$.items[0].customer`` for the instance path ``["items", 0, "customer"]``."""
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


def first_error(errors) -> ValidationError | None:
    """The error to name (jsonschema's ``best_match``), followed into an ``anyOf``/``oneOf``:
    the branch that matched furthest says more than "not valid under any of the given schemas"
    (the null stand-in's refusal of a non-null says nothing)."""
    error = best_match(errors)
    while error is not None and error.context:
        branches = [e for e in error.context if not (e.validator == "enum" and e.validator_value == [None])]
        error = best_match(branches or error.context)
    return error


# --- the document --------------------------------------------------------------------------------


class Document:
    """The operations of an OpenAPI 3.0 document and what each may answer."""

    def __init__(self, openapi: dict):
        self.original = openapi
        self.strict = strict(openapi)
        self.registry = Registry().with_resource(DOCUMENT_URI, Resource(contents=self.strict, specification=DRAFT4))
        self.operations: dict[Operation, dict] = {}
        self._templates: list[tuple[int, re.Pattern, str]] = []
        for path, item in openapi["paths"].items():
            for method in METHODS:
                if method in item:
                    self.operations[Operation(method.upper(), path)] = item[method]
            literal = len(re.sub(r"\{[^}/]+\}", "", path))  # a literal segment beats a parameter
            pattern = re.compile("^" + re.sub(r"\\\{[^}/]+\\\}", "[^/]+", re.escape(path)) + r"\Z")
            self._templates.append((literal, pattern, path))
        self._templates.sort(key=lambda t: -t[0])
        self._validators: dict[tuple, OAS30Validator] = {}

    def operation_of(self, method: str, path: str) -> Operation | None:
        """The documented operation ``method path`` is (the most literal template first), or None."""
        for _, pattern, template in self._templates:
            operation = Operation(method.upper(), template)
            if pattern.match(path) and operation in self.operations:
                return operation
        return None

    def successes(self, operation: Operation) -> dict[int, dict]:
        """The operation's documented 2xx answers, by status."""
        responses = self.operations[operation]["responses"]
        return {int(status): r for status, r in responses.items() if status.isdigit() and 200 <= int(status) < 300}

    def mismatch(self, answer: Answer) -> str | None:
        """How ``answer`` differs from what the document says its operation answers
        with that status: ``"POST /v1/x 201 $.a.b: why"``; None when it matches."""
        if answer.operation is None:
            return f"{answer.name} {answer.status}: no documented operation"
        where = f"{answer.operation} {answer.status}"
        documented = self.successes(answer.operation)
        if answer.status not in documented:
            return f"{where}: not a documented success status (documented: {sorted(documented)})"
        content = documented[answer.status].get("content", {})
        if not content:
            if answer.body:
                return (f"{where} $: the document describes no content, the answer has "
                        f"{len(answer.body)} bytes of {answer.content_type}")
            return None
        if answer.content_type not in content:
            return f"{where} $: Content-Type {answer.content_type}, documented {', '.join(sorted(content))}"
        if answer.content_type != "application/json":
            return None  # a file: its bytes are the scenario's to check
        try:
            instance = json.loads(answer.body)
        except ValueError as error:
            return f"{where} $: not JSON ({error})"
        error = first_error(self._validator(answer.operation, answer.status, answer.content_type)
                            .iter_errors(instance))
        if error is None:
            return None
        return f"{where} {json_path(error.absolute_path)}: {error.message[:300]}"

    def _validator(self, operation: Operation, status: int, media: str) -> OAS30Validator:
        key = (operation, status, media)
        if key not in self._validators:
            at = _pointer("paths", operation.path, operation.method.lower(), "responses", str(status), "content",
                          media, "schema")
            self._validators[key] = OAS30Validator({"$ref": DOCUMENT_URI + at}, registry=self.registry,
                                                   format_checker=oas30_format_checker)
        return self._validators[key]


# --- the recording client ------------------------------------------------------------------------


class Recorder(Api):
    """An ``Api`` client (tests/support/api.py) that keeps each answer with its documented operation."""

    def __init__(self, api: Api, document: Document):
        super().__init__(api.base_url, api.platform_key)
        self.document = document
        self.answers: list[Answer] = []

    def record(self, method: str, path: str, response: requests.Response) -> requests.Response:
        path = urlsplit(path).path
        media = response.headers.get("Content-Type")
        self.answers.append(Answer(self.document.operation_of(method, path), method.upper(), path,
                                   response.status_code, media.split(";")[0].strip().lower() if media else None,
                                   response.content))
        return response

    def request(self, method: str, path: str, token=None, **kwargs) -> requests.Response:
        return self.record(method, path, super().request(method, path, token, **kwargs))

    def answered(self) -> set[Operation]:
        """The operations that answered one of their documented success statuses at least once."""
        return {a.operation for a in self.answers
                if a.operation is not None and a.status in self.document.successes(a.operation)}

    def mismatches(self) -> list[str]:
        """How each answer differs from its documentation, once per distinct difference (with a count)."""
        seen: dict[str, int] = {}
        for answer in self.answers:
            found = self.document.mismatch(answer)
            if found is not None:
                seen[found] = seen.get(found, 0) + 1
        return [f"{text} (x{count})" if count > 1 else text for text, count in seen.items()]
