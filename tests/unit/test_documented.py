"""The strict check of answers against an OpenAPI document (tests/support/documented.py),
which tests/e2e/test_documented_answers.py runs on every answer: it finds what it must."""
from __future__ import annotations

import copy
import json

import pytest

from tests.support.documented import Answer, Document, Operation

THING = {"type": "object", "properties": {
    "id": {"type": "string"},
    "note": {"type": "string", "nullable": True},
    "owner": {"anyOf": [{"type": "object", "nullable": True}, {"$ref": "#/components/schemas/Owner"}]},
    "tags": {"type": "array", "items": {"$ref": "#/components/schemas/Owner"}},
}}
OPENAPI = {
    "openapi": "3.0.3", "info": {"title": "t", "version": "1"},
    "components": {"schemas": {"Thing": THING,
                               "Owner": {"type": "object", "properties": {"name": {"type": "string"}}}}},
    "paths": {
        "/things/{thing_id}": {
            "get": {"responses": {"200": {"description": "OK", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}}}},
            "delete": {"responses": {"204": {"description": "Done"}, "404": {"description": "No"}}},
        },
        "/things/export": {"get": {"responses": {"200": {"description": "The file", "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}}},
    },
}
GET = Operation("GET", "/things/{thing_id}")


def answer(operation, status=200, value=None, content_type="application/json", raw=None) -> Answer:
    raw = raw if raw is not None else (json.dumps(value).encode() if value is not None else b"")
    return Answer(operation, operation.method, operation.path, status, content_type, raw)


@pytest.fixture
def document():
    return Document(copy.deepcopy(OPENAPI))


def test_a_request_is_the_most_literal_documented_operation_its_path_matches(document):
    assert document.operation_of("GET", "/things/export") == Operation("GET", "/things/export")
    assert document.operation_of("get", "/things/42") == GET
    assert document.operation_of("DELETE", "/things/export") == Operation("DELETE", "/things/{thing_id}")
    assert document.operation_of("POST", "/things/42") is None
    assert document.operation_of("GET", "/things/42/parts") is None


def test_a_documented_answer_passes_and_the_original_document_stays_as_it_was(document):
    assert document.mismatch(answer(GET, value={"id": "1", "note": None, "owner": None, "tags": []})) is None
    assert document.mismatch(answer(GET, value={"id": "1", "owner": {"name": "Huda"}})) is None
    assert document.mismatch(answer(Operation("DELETE", "/things/{thing_id}"), 204)) is None
    assert document.original == OPENAPI


@pytest.mark.parametrize("value, where", [
    ({"id": "1", "secret": "x"}, "$: Additional properties are not allowed ('secret' was unexpected)"),
    ({"id": None}, "$.id: None for not nullable"),
    ({"id": 1}, "$.id: 1 is not of type 'string'"),
    ({"owner": {"name": "Huda", "email": "x"}}, "$.owner: Additional properties are not allowed ('email'"),
    ({"owner": {"name": 5}}, "$.owner.name: 5 is not of type 'string'"),
    ({"owner": {"anything": "goes?"}}, "$.owner: Additional properties are not allowed ('anything'"),
    ({"tags": [{"name": "a"}, {"name": None}]}, "$.tags[1].name: None for not nullable"),
])
def test_an_undocumented_field_null_or_type_is_named_by_its_json_path(document, value, where):
    found = document.mismatch(answer(GET, value=value))
    assert found is not None and found.startswith(f"GET /things/{{thing_id}} 200 {where}"), found


def test_a_status_a_content_type_or_a_body_the_document_does_not_give_is_a_mismatch(document):
    delete = Operation("DELETE", "/things/{thing_id}")
    assert "not a documented success status" in document.mismatch(answer(GET, 201, {"id": "1"}))
    assert "not a documented success status" in document.mismatch(answer(delete, 404))
    assert "Content-Type text/html, documented application/json" in document.mismatch(
        answer(GET, raw=b"<p>", content_type="text/html"))
    assert "describes no content" in document.mismatch(answer(delete, 204, {"id": "1"}))
    export = Operation("GET", "/things/export")
    assert document.mismatch(answer(export, raw=b"\x00", content_type="application/octet-stream")) is None
    assert "Content-Type image/png" in document.mismatch(answer(export, raw=b"\x89PNG", content_type="image/png"))
