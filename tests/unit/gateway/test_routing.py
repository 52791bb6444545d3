"""A route declared once (services.gateway.routing): the declaration
authenticates, checks the path's ids, loads the body and the query, and turns
what the service answered into the HTTP answer, shaped by the response schema
(services.gateway.shapes). Told on a small service of its own."""
from __future__ import annotations

from dataclasses import replace

import pytest
from marshmallow import Schema, fields
from nameko.testing.services import worker_factory
from nameko.web.handlers import http
from werkzeug.wrappers import Response

from seedwork.errors import Forbidden, NotFound, Unauthenticated
from services.gateway.config import Config
from services.gateway.dependencies import IdentityStore
from services.gateway.http import BadRequest
from services.gateway.routing import ADMIN, STAFF, WHOLE, Answer, route, routes
from services.gateway.shapes import ResponseDrift, shape_of
from tests.unit.gateway.fakes import CONFIG, FakeIdentity, json_of, request

THING = "0b6e0c55-8a4f-4c43-9d55-1c2f6f7d0a01"


class ThingWrite(Schema):
    name = fields.String(required=True)


class Part(Schema):
    n = fields.Integer()


class Thing(Schema):
    id = fields.String()
    name = fields.String()
    version = fields.Integer()
    note = fields.String(allow_none=True)
    parts = fields.List(fields.Nested(Part))


class Query(Schema):
    limit = fields.Integer(load_default=25)


class ThingRoutes:
    """A service with a route of each kind; the handlers answer what a service would."""

    answers: dict = {}

    @route("POST", "/v1/things", "Create a thing", roles=STAFF, body=ThingWrite, response=Thing, status=201,
           resource="thing", etag=True, location="/v1/things/{id}", idempotent=True)
    def create(self, call):
        self.seen = call
        return self.answers.get("create", {"thing": {"id": THING, "name": call.body["name"], "version": 1},
                                           "created": True})

    @route("PUT", "/v1/things/<ticket_id>", "Put a thing", roles=ADMIN, body=ThingWrite, response=Thing,
           resource="thing", may_create=True, location="/v1/things/{id}", if_match="thing")
    def put(self, call, ticket_id):
        self.seen = call
        return Answer(self.answers["put"], {"X-Applied": "true"})

    @route("GET", "/v1/things", "List", roles=STAFF, query=Query)
    def listing(self, call):
        return {"limit": call.query["limit"]}

    @route("POST", "/v1/flows", "A flow", roles=STAFF, response=Thing, resource=WHOLE, may_create=True,
           location="/v1/things/{id}")
    def flow(self, call):
        return {"id": THING, "name": "flowed", "created": True, "replayed": True}

    @route("POST", "/v1/things/<ticket_id>/sends", "Send a thing", roles=STAFF, response=Thing, status=202,
           resource="thing", location="/v1/things/{id}")
    def send(self, call, ticket_id):
        return self.answers["send"]

    @route("DELETE", "/v1/things/<ticket_id>", "Delete", roles=ADMIN, status=204)
    def delete(self, call, ticket_id):
        return None

    @route("GET", "/v1/raw", "Bytes", download=True)
    def raw(self, call):
        return Response(b"bytes", status=200)


class ThingService(ThingRoutes):
    name = "things"
    identity = IdentityStore()  # both replaced with fakes by worker_factory
    config = Config()


@pytest.fixture
def things():
    service = worker_factory(ThingService, identity=FakeIdentity(), config=CONFIG)
    service.answers = {}
    return service


# --- who may call ---------------------------------------------------------------------


def test_a_route_without_a_token_is_unauthenticated_and_a_role_it_does_not_name_forbidden(things):
    with pytest.raises(Unauthenticated):
        things.create(request(body={"name": "a"}, token="nobody"))
    with pytest.raises(Forbidden):
        things.create(request(body={"name": "a"}, token="ali"))  # a shopper
    with pytest.raises(Forbidden):
        things.put(request("PUT", body={"name": "a"}, token="agent"), THING)  # an agent is not an admin


def test_a_route_with_no_roles_needs_no_token(things):
    assert things.raw(request("GET", token="nobody")).get_data() == b"bytes"


# --- what comes in ----------------------------------------------------------------------


def test_an_id_in_the_path_that_cannot_name_one_is_its_404_before_the_handler_runs(things):
    with pytest.raises(NotFound) as info:
        things.delete(request("DELETE", token="owner"), "not-a-uuid")
    assert info.value.code == "ticket_not_found"


def test_the_body_and_the_query_arrive_validated(things):
    with pytest.raises(BadRequest) as info:
        things.create(request(body={"name": 7}))
    assert list(info.value.errors) == ["name"]
    assert json_of(things.listing(request("GET", query="limit=5"))) == {"limit": 5}
    with pytest.raises(BadRequest):
        things.listing(request("GET", query="limit=five"))


def test_an_idempotency_key_comes_with_a_fingerprint_of_the_request(things):
    things.create(request(body={"name": "a"}, headers={"Idempotency-Key": "k-1"}))
    key, fingerprint = things.seen.idempotency
    things.create(request(body={"name": "b"}, headers={"Idempotency-Key": "k-1"}))
    assert key == "k-1" and things.seen.idempotency[1] != fingerprint  # another body, another request
    with pytest.raises(BadRequest) as info:
        things.create(request(body={"name": "a"}, headers={"Idempotency-Key": "é"})).get_data()
        things.seen.idempotency  # noqa: B018 - read lazily, by the handler that sends it
    assert list(info.value.errors) == ["Idempotency-Key"]


def test_if_match_names_a_version_or_is_refused(things):
    things.answers["put"] = {"thing": {"id": THING, "version": 4}, "created": False}
    things.put(request("PUT", body={"name": "a"}, headers={"If-Match": '"3"'}), THING)
    assert things.seen.if_match == 3
    things.put(request("PUT", body={"name": "a"}, headers={"If-Match": "*"}), THING)
    assert things.seen.if_match is None
    things.put(request("PUT", body={"name": "a"}, headers={"If-Match": "three"}), THING)
    with pytest.raises(BadRequest):
        things.seen.if_match  # noqa: B018


# --- what goes out ------------------------------------------------------------------------


def test_a_created_resource_is_a_201_with_its_location_and_etag(things):
    response = things.create(request(body={"name": "a"}))
    assert response.status_code == 201
    assert response.headers["Location"] == f"/v1/things/{THING}" and response.headers["ETag"] == '"1"'
    assert json_of(response) == {"id": THING, "name": "a", "version": 1}
    assert "Idempotent-Replayed" not in response.headers


def test_a_replay_says_so(things):
    things.answers["create"] = {"thing": {"id": THING, "name": "a", "version": 1}, "created": True, "replayed": True}
    assert things.create(request(body={"name": "a"})).headers["Idempotent-Replayed"] == "true"


def test_a_route_that_may_create_answers_200_for_what_existed_with_the_handlers_headers(things):
    things.answers["put"] = {"thing": {"id": THING, "version": 2}, "created": False}
    response = things.put(request("PUT", body={"name": "a"}), THING)
    assert response.status_code == 200 and "Location" not in response.headers
    assert response.headers["X-Applied"] == "true"
    things.answers["put"] = {"thing": {"id": THING, "version": 1}, "created": True}
    assert things.put(request("PUT", body={"name": "a"}), THING).status_code == 201


def test_a_route_that_does_not_create_keeps_its_status_whatever_the_result_says(things):
    things.answers["send"] = {"thing": {"id": THING, "version": 1}, "created": True}
    response = things.send(request(), THING)
    assert response.status_code == 202 and "Location" not in response.headers
    things.answers["send"] = {"thing": {"id": THING, "version": 1}, "created": False}
    assert things.send(request(), THING).status_code == 202


def test_an_answer_recorded_before_created_replays_with_the_status_it_kept(things):
    things.answers["create"] = {"thing": {"id": THING, "name": "a", "version": 1}, "status": 201, "replayed": True}
    assert things.create(request(body={"name": "a"})).status_code == 201
    things.answers["put"] = {"thing": {"id": THING, "version": 2}, "status": 200, "replayed": True}
    assert things.put(request("PUT", body={"name": "a"}), THING).status_code == 200
    things.answers["send"] = {"thing": {"id": THING, "version": 1}, "status": 201, "replayed": True}
    assert things.send(request(), THING).status_code == 202


def test_a_whole_result_is_the_answer_without_its_flags(things):
    response = things.flow(request())
    assert json_of(response) == {"id": THING, "name": "flowed"}
    assert response.status_code == 201 and response.headers["Idempotent-Replayed"] == "true"


def test_nothing_to_answer_is_the_routes_204_and_a_response_passes_as_it_is(things):
    assert things.delete(request("DELETE"), THING).status_code == 204
    assert things.raw(request("GET")).get_data() == b"bytes"


def test_only_the_declared_fields_leave_the_gateway(things):
    things.answers["create"] = {"thing": {"id": THING, "name": "a", "version": 1, "secret": "s3cr3t",
                                          "parts": [{"n": 1, "internal": True}]}, "created": True}
    assert json_of(things.create(request(body={"name": "a"}))) == {"id": THING, "name": "a", "version": 1,
                                                                   "parts": [{"n": 1}]}


def test_in_check_mode_an_answer_that_drifted_from_its_schema_fails_naming_the_field(things):
    things.config = replace(CONFIG, check_responses=True)
    things.answers["create"] = {"thing": {"id": THING, "name": "a", "version": 1, "secret": "s"}, "created": True}
    with pytest.raises(ResponseDrift, match="^POST /v1/things answered outside its response schema Thing: "
                                            "secret: not a field of Thing$"):
        things.create(request(body={"name": "a"}))
    things.answers["create"] = {"thing": {"id": THING, "version": "1"}, "created": True}
    with pytest.raises(ResponseDrift, match="version: expected an integer"):
        things.create(request(body={"name": "a"}))


# --- shapes -----------------------------------------------------------------------------


@pytest.mark.parametrize("answer, drift", [
    ({"id": 1}, "id: expected a string"),
    ({"version": True}, "version: expected an integer"),
    ({"name": None}, "name: expected a string"),
    ({"parts": {"n": 1}}, "parts: expected a list"),
    ({"parts": [{"n": "one"}]}, "parts.0.n: expected an integer"),
    ({"parts": [{"m": 1}]}, "parts.0.m: not a field of Part"),
    ("a thing", "expected an object"),
])
def test_a_shape_names_where_an_answer_drifted(answer, drift):
    with pytest.raises(ResponseDrift, match=drift):
        shape_of(Thing).check(answer)


def test_a_shape_takes_nulls_where_the_schema_allows_them_and_fields_left_out():
    shape_of(Thing).check({"id": THING, "note": None, "parts": []})
    assert shape_of(Thing).project({"note": None, "parts": [], "extra": 1}) == {"note": None, "parts": []}


# --- the routes a class declares ---------------------------------------------------------


class _Base:
    @route("GET", "/v1/base", "Base route", roles=STAFF)
    def base_route(self, call): ...

    @route("GET", "/v1/hidden", "Overridden", roles=STAFF)
    def shared(self, call): ...


class _Service(_Base):
    """Inherits base_route, replaces shared (and its route), adds its own and one plain Nameko route."""

    @route("GET", "/v1/own", "Own route", roles=ADMIN)
    def own_route(self, call): ...

    @route("GET", "/v1/override", "Override", roles=ADMIN)
    def shared(self, call): ...

    @http("GET", "/v1/undocumented")
    def plain(self, request): ...


def test_routes_are_found_on_the_class_and_its_bases_and_an_override_hides_its_base():
    found = {(doc.method, doc.rule): doc.summary for doc in routes(_Service)}
    assert found == {("GET", "/v1/own"): "Own route", ("GET", "/v1/override"): "Override",
                     ("GET", "/v1/base"): "Base route"}
