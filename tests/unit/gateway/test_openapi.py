"""The OpenAPI document generated from the gateway's routes (services.gateway.openapi)."""
from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from services.gateway.openapi import openapi_document, openapi_path
from services.gateway.routing import routes
from services.gateway.service import GatewayService
from services.gateway.schemas import tickets as tickets_schemas

DOCUMENT = openapi_document(GatewayService)  # cached by the module; never mutate it here
ROUTES = [(route.method, route.rule, route) for route in routes(GatewayService)]
ROUTE_IDS = [f"{method} {rule}" for method, rule, _ in ROUTES]


def operation(method: str, rule: str) -> dict:
    return DOCUMENT["paths"][openapi_path(rule)][method.lower()]


def parameters(op: dict, where: str) -> dict[str, dict]:
    return {p["name"]: p for p in op.get("parameters", ()) if p["in"] == where}


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


# --- a valid OpenAPI 3.0 document ------------------------------------------------------------


def test_the_document_is_openapi_3_0():
    assert re.fullmatch(r"3\.0\.\d+", DOCUMENT["openapi"])
    assert DOCUMENT["info"]["title"] and DOCUMENT["info"]["version"]


def test_the_document_passes_the_openapi_validator():
    validate(DOCUMENT)


def test_the_document_is_generated_once():
    assert openapi_document(GatewayService) is DOCUMENT


# --- every route, with its method -------------------------------------------------------------


def test_the_gateway_documents_its_routes():
    documented = {(m, r) for m, r, _ in ROUTES}
    for expected in [("POST", "/v1/stores"), ("POST", "/v1/tickets"), ("GET", "/v1/tickets"),
                     ("GET", "/v1/tickets/<ticket_id>"), ("PATCH", "/v1/tickets/<ticket_id>"),
                     ("DELETE", "/v1/tickets/<ticket_id>/tags/<tag>"), ("GET", "/v1/events"),
                     ("GET", "/v1/openapi.json")]:
        assert expected in documented


@pytest.mark.parametrize("method, rule, doc", ROUTES, ids=ROUTE_IDS)
def test_each_route_appears_with_its_method_and_summary(method, rule, doc):
    assert operation(method, rule)["summary"] == doc.summary


def test_nothing_but_the_routes_is_documented():
    documented = {(m.lower(), openapi_path(r)) for m, r, _ in ROUTES}
    in_document = {(m, p) for p, ops in DOCUMENT["paths"].items() for m in ops}
    assert in_document == documented


def test_the_catch_all_route_is_not_documented():
    assert not any("<path:" in rule for _, rule, _ in ROUTES)
    assert all("<" not in path and ">" not in path for path in DOCUMENT["paths"])


# --- path parameters ------------------------------------------------------------------------


@pytest.mark.parametrize("rule, path", [
    ("/v1/tickets", "/v1/tickets"),
    ("/v1/tickets/<ticket_id>", "/v1/tickets/{ticket_id}"),
    ("/v1/tickets/<ticket_id>/tags/<tag>", "/v1/tickets/{ticket_id}/tags/{tag}"),
    ("/v1/things/<int:number>", "/v1/things/{number}"),
])
def test_werkzeug_rules_become_openapi_paths(rule, path):
    assert openapi_path(rule) == path


@pytest.mark.parametrize("method, rule, doc", ROUTES, ids=ROUTE_IDS)
def test_every_path_parameter_is_declared_required(method, rule, doc):
    in_path = re.findall(r"\{([a-z_]+)\}", openapi_path(rule))
    declared = parameters(operation(method, rule), "path")
    assert sorted(declared) == sorted(in_path)
    assert all(p["required"] for p in declared.values())


# --- headers: Idempotency-Key and If-Match ----------------------------------------------------


@pytest.mark.parametrize("method, rule, doc", ROUTES, ids=ROUTE_IDS)
def test_idempotent_posts_and_only_they_document_the_idempotency_key(method, rule, doc):
    headers = parameters(operation(method, rule), "header")
    assert ("Idempotency-Key" in headers) == doc.idempotent
    if doc.idempotent:
        assert method == "POST"
        assert headers["Idempotency-Key"]["required"] is False
        assert headers["Idempotency-Key"]["schema"]["maxLength"] == 255


def test_creating_a_ticket_takes_an_idempotency_key():
    assert "Idempotency-Key" in parameters(operation("POST", "/v1/tickets"), "header")


@pytest.mark.parametrize("method, rule, doc", ROUTES, ids=ROUTE_IDS)
def test_routes_that_honour_if_match_document_it(method, rule, doc):
    assert ("If-Match" in parameters(operation(method, rule), "header")) == bool(doc.if_match)


# --- bodies, queries and responses reference the schemas ----------------------------------------


@pytest.mark.parametrize("method, rule, doc", ROUTES, ids=ROUTE_IDS)
def test_request_bodies_reference_the_schema_the_route_validates_with(method, rule, doc):
    op = operation(method, rule)
    if doc.upload is not None:
        form = op["requestBody"]["content"]["multipart/form-data"]["schema"]
        assert form["required"] == [doc.upload]
        assert form["properties"][doc.upload] == {"type": "string", "format": "binary"}
        return
    if doc.raw_body is not None:
        assert op["requestBody"]["content"] == {doc.raw_body: {"schema": {"type": "string"}}}
        return
    if doc.body is None:
        assert "requestBody" not in op
        return
    assert op["requestBody"]["required"] is True
    assert op["requestBody"]["content"]["application/json"]["schema"] == ref(doc.body.__name__)
    assert doc.body.__name__ in DOCUMENT["components"]["schemas"]


@pytest.mark.parametrize("method, rule, doc", ROUTES, ids=ROUTE_IDS)
def test_a_route_that_reads_a_body_documents_the_415_of_a_type_it_does_not_take(method, rule, doc):
    reads_a_body = doc.body is not None or doc.upload is not None or doc.raw_body is not None
    assert ("415" in operation(method, rule)["responses"]) == reads_a_body


def test_the_ticket_schema_in_the_document_lists_its_fields_and_limits():
    ticket_create = DOCUMENT["components"]["schemas"]["TicketCreate"]
    assert set(ticket_create["required"]) == {"subject", "body"}
    assert ticket_create["properties"]["subject"]["maxLength"] == 200
    assert set(ticket_create["properties"]) == set(tickets_schemas.TicketCreate().fields)


def test_query_schemas_become_query_parameters():
    query = parameters(operation("GET", "/v1/tickets"), "query")
    assert set(query) == set(tickets_schemas.TicketQuery().fields)
    assert query["limit"]["schema"]["maximum"] == 100


@pytest.mark.parametrize("method, rule, doc", ROUTES, ids=ROUTE_IDS)
def test_the_success_response_has_the_routes_status_and_schema(method, rule, doc):
    success = operation(method, rule)["responses"][str(doc.status)]
    if doc.response is not None:
        assert success["content"]["application/json"]["schema"] == ref(doc.response.__name__)


@pytest.mark.parametrize("method, rule, doc", ROUTES, ids=ROUTE_IDS)
def test_error_responses_are_problems(method, rule, doc):
    responses = operation(method, rule)["responses"]
    errors = {status: r for status, r in responses.items() if int(status) >= 400}
    assert errors
    if doc.degraded:  # a health check's 503 is its report, with the same body as its 200
        assert errors.pop("503")["content"] == responses["200"]["content"]
    for response in errors.values():
        assert response["content"] == {"application/problem+json": {"schema": ref("Problem")}}
    assert set(DOCUMENT["components"]["schemas"]["Problem"]["properties"]) >= {
        "type", "title", "status", "code", "detail", "errors", "request_id"}


# --- security ------------------------------------------------------------------------------


@pytest.mark.parametrize("method, rule, doc", ROUTES, ids=ROUTE_IDS)
def test_routes_that_need_a_token_say_so_and_document_401(method, rule, doc):
    op = operation(method, rule)
    if doc.roles:
        assert op["security"] == [{"bearer": []}]
        assert "401" in op["responses"]
        for role in doc.roles:
            assert role in op["description"]
    else:
        assert "security" not in op
        assert "401" not in op["responses"]


def test_the_bearer_scheme_is_declared():
    assert DOCUMENT["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}


def test_health_and_the_document_itself_need_no_token():
    for rule in ("/health", "/health/live", "/health/ready", "/v1/openapi.json"):
        assert "security" not in operation("GET", rule)
