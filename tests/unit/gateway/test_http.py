"""Problem responses and request parsing of the gateway (services.gateway.http)."""
from __future__ import annotations

import json
import logging

import pytest
from nameko.exceptions import RpcTimeout, UnknownService
from werkzeug.datastructures import MultiDict

from seedwork.errors import (
    ConcurrencyConflict, Conflict, DomainError, Forbidden, IdempotencyKeyReused, InvalidCommand, InvalidQuery, NotFound,
    PreconditionFailed, Unauthenticated,
)
from services.gateway.http import (
    PROBLEM_JSON, STATUS_OF, BadRequest, PayloadTooLarge, ServiceUnavailable, UnsupportedMediaType, load_json,
    load_query, TITLES, problem, response_for_error,
)
from services.gateway.schemas.fields import NoFields
from services.gateway.schemas import tickets as tickets_schemas

PROBLEM_FIELDS = {"type", "title", "status", "code", "detail", "errors"}


def body_of(response) -> dict:
    return json.loads(response.get_data(as_text=True))


class FakeRequest:
    """The little of a werkzeug request that ``load_json``/``load_query`` read."""

    def __init__(self, data: bytes = b"", mimetype: str = "application/json", args: dict | None = None):
        self.data = data
        self.mimetype = mimetype
        self.args = MultiDict(args or {})

    def get_data(self, cache=True):
        assert cache, "the body is read once and kept for the access log"
        return self.data


def json_request(body, mimetype="application/json") -> FakeRequest:
    return FakeRequest(json.dumps(body).encode(), mimetype)


# --- one table maps every refusal to its status -----------------------------------------


@pytest.mark.parametrize("error_class, status", [
    (BadRequest, 400),
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (PreconditionFailed, 412),
    (PayloadTooLarge, 413),
    (UnsupportedMediaType, 415),
    (InvalidCommand, 422),
    (IdempotencyKeyReused, 422),
    (ServiceUnavailable, 503),
], ids=lambda v: v.__name__ if isinstance(v, type) else str(v))
def test_each_refusal_gets_its_status_and_keeps_code_detail_and_errors(error_class, status):
    exc = error_class("some_code", "what went wrong", {"field": ["why"]})
    response = response_for_error(exc, "req-1")
    assert response.status_code == status
    assert response.mimetype == PROBLEM_JSON
    assert body_of(response) == {
        "type": "urn:seed:problem:some_code", "title": TITLES[status], "status": status,
        "code": "some_code", "detail": "what went wrong", "errors": {"field": ["why"]}, "request_id": "req-1",
    }


def test_the_table_and_the_expected_statuses_agree():
    assert dict(STATUS_OF) == {
        BadRequest: 400, InvalidQuery: 400, Unauthenticated: 401, Forbidden: 403, NotFound: 404,
        PreconditionFailed: 412, PayloadTooLarge: 413, UnsupportedMediaType: 415, IdempotencyKeyReused: 422,
        InvalidCommand: 422, Conflict: 409, ServiceUnavailable: 503,
    }


def test_a_malformed_query_is_a_400_even_though_it_is_an_invalid_command():
    # InvalidQuery subclasses InvalidCommand: the table must find it first.
    response = response_for_error(InvalidQuery.field("cursor", "not a cursor"), "r-1")
    assert response.status_code == 400
    assert json.loads(response.get_data())["errors"] == {"cursor": ["not a cursor"]}


@pytest.mark.parametrize("status, title", [(400, "Bad Request"), (401, "Unauthorized"), (404, "Not Found"),
                                           (422, "Unprocessable Content"), (503, "Service Unavailable")])
def test_the_title_is_the_status_phrase(status, title):
    assert body_of(problem(status, "c", "d"))["title"] == title


def test_a_subclass_of_a_mapped_refusal_gets_its_parents_status():
    class TicketClosed(Conflict):
        pass

    assert response_for_error(TicketClosed("ticket_closed", "closed"), None).status_code == 409


def test_a_domain_error_the_table_does_not_name_is_a_bad_request():
    response = response_for_error(DomainError("odd", "an unmapped refusal"), None)
    assert response.status_code == 400
    assert body_of(response)["code"] == "odd"


def test_a_problem_without_errors_has_an_empty_errors_object_and_no_request_id_when_none_is_known():
    body = body_of(response_for_error(NotFound("ticket_not_found", "no ticket t-1"), None))
    assert set(body) == PROBLEM_FIELDS
    assert body["errors"] == {}


def test_problem_bodies_keep_non_ascii_text_readable():
    response = response_for_error(InvalidCommand.field("subject", "trop long — 201 caractères"), None)
    assert "trop long — 201 caractères" in response.get_data(as_text=True)


# --- failures of the event store and of the services behind the gateway ------------------


def test_a_lost_race_in_the_event_store_is_a_409():
    response = response_for_error(ConcurrencyConflict("ticket-1", 3, 4), "req-2")
    assert response.status_code == 409
    body = body_of(response)
    assert body["code"] == "concurrency_conflict"
    assert body["request_id"] == "req-2"
    assert "ticket-1" not in response.get_data(as_text=True)  # stream ids are internal


@pytest.mark.parametrize("exc", [UnknownService("tickets"), RpcTimeout()], ids=["unknown service", "timeout"])
def test_a_service_that_does_not_answer_is_a_503_to_retry(exc):
    response = response_for_error(exc, "req-3")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.mimetype == PROBLEM_JSON
    body = body_of(response)
    assert set(body) == PROBLEM_FIELDS | {"request_id"}
    assert body["code"] == "service_unavailable"


# --- the unexpected: a stable 500 that leaks nothing ------------------------------------


def test_an_unexpected_error_is_a_500_that_names_the_request_but_not_the_error(caplog):
    try:
        {}["secret"]
    except KeyError as exc:
        error = exc
    with caplog.at_level(logging.ERROR, logger="gateway.access"):
        response = response_for_error(error, "req-4")
    assert response.status_code == 500
    assert response.mimetype == PROBLEM_JSON
    text = response.get_data(as_text=True)
    for leak in ("secret", "KeyError", "Traceback", "test_unit_gateway_http"):
        assert leak not in text
    body = body_of(response)
    assert body["code"] == "internal_error"
    assert body["request_id"] == "req-4"
    assert body["errors"] == {}
    # The operator finds the whole story in the log under the same request id.
    [record] = [r for r in caplog.records if "req-4" in r.getMessage()]
    assert "'secret'" in record.getMessage()  # what went wrong, on the line itself
    assert record.exc_info and record.exc_info[0] is KeyError


# --- JSON bodies ------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"   \n"], ids=["empty", "whitespace"])
def test_an_empty_body_is_an_empty_object(data):
    assert load_json(FakeRequest(data), NoFields()) == {}


def test_an_empty_body_still_meets_the_schemas_required_fields():
    with pytest.raises(BadRequest) as refused:
        load_json(FakeRequest(b""), tickets_schemas.TagRequest())
    assert "tag" in refused.value.errors


def test_a_valid_body_is_returned_validated():
    assert load_json(json_request({"tag": "vip"}), tickets_schemas.TagRequest()) == {"tag": "vip"}


@pytest.mark.parametrize("data", [b"{not json", b'{"tag": "vip"', b'{"tag": "\xff"}', b"{'tag': 'vip'}"],
                         ids=["garbage", "truncated", "not utf-8", "single quotes"])
def test_a_body_that_is_not_json_is_malformed_json(data):
    with pytest.raises(BadRequest) as refused:
        load_json(FakeRequest(data), tickets_schemas.TagRequest())
    assert refused.value.code == "malformed_json"
    assert response_for_error(refused.value, None).status_code == 400


@pytest.mark.parametrize("body", [[{"tag": "vip"}], "vip", 5, None], ids=["array", "string", "number", "null"])
def test_a_json_body_that_is_not_an_object_is_a_bad_request(body):
    with pytest.raises(BadRequest) as refused:
        load_json(json_request(body), tickets_schemas.TagRequest())
    assert refused.value.code == "invalid_request"
    assert refused.value.errors == {"_schema": ["expected an object"]}


@pytest.mark.parametrize("mimetype", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_a_body_of_another_media_type_is_refused_with_415(mimetype):
    with pytest.raises(UnsupportedMediaType) as refused:
        load_json(FakeRequest(b'{"tag": "vip"}', mimetype), tickets_schemas.TagRequest())
    assert response_for_error(refused.value, None).status_code == 415


@pytest.mark.parametrize("mimetype", ["application/json", "application/merge-patch+json", "application/vnd.seed+json",
                                      ""], ids=["json", "merge-patch", "vendor", "no content type"])
def test_json_media_types_and_a_missing_one_are_accepted(mimetype):
    assert load_json(FakeRequest(b'{"tag": "vip"}', mimetype), tickets_schemas.TagRequest()) == {"tag": "vip"}


# --- field errors name the field, nested ones with dots --------------------------------------


def test_field_errors_name_each_bad_field():
    with pytest.raises(BadRequest) as refused:
        load_json(json_request({"subject": 5, "status": "open"}), tickets_schemas.TicketCreate())
    errors = refused.value.errors
    assert set(errors) == {"subject", "body", "status"}
    assert all(isinstance(m, list) and all(isinstance(s, str) for s in m) for m in errors.values())


def test_errors_inside_a_list_of_objects_are_named_with_dotted_paths():
    body = {"subject": "Parcel", "body": "Where is it?", "attachments": [
        {"filename": "ok.png", "url": "https://example.test/ok.png"},
        {"filename": "bad.png", "url": "ftp://example.test/bad.png"},
    ]}
    with pytest.raises(BadRequest) as refused:
        load_json(json_request(body), tickets_schemas.TicketCreate())
    assert list(refused.value.errors) == ["attachments.1.url"]
    problem_body = body_of(response_for_error(refused.value, None))
    assert problem_body["errors"]["attachments.1.url"]


def test_a_whole_body_error_is_named_schema():
    with pytest.raises(BadRequest) as refused:
        load_json(json_request({}), tickets_schemas.TicketUpdate())
    assert list(refused.value.errors) == ["_schema"]


# --- query strings ------------------------------------------------------------------------


def test_query_parameters_are_validated_and_converted():
    loaded = load_query(FakeRequest(args={"limit": "10", "sort": "priority"}), tickets_schemas.TicketQuery())
    assert loaded == {"limit": 10, "sort": "priority"}


def test_bad_query_parameters_are_a_bad_request_naming_them():
    with pytest.raises(BadRequest) as refused:
        load_query(FakeRequest(args={"limit": "500", "colour": "red"}), tickets_schemas.TicketQuery())
    assert set(refused.value.errors) == {"limit", "colour"}
