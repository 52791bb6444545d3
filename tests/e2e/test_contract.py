"""The HTTP contract of the gateway: validation as problem responses that
name the field and store nothing, If-Match, concurrent writers, Idempotency-Key,
request ids, the OpenAPI document, health and unknown routes."""
from __future__ import annotations

import re
import threading
import uuid

from services.gateway.service import GatewayService
from tests.support.api import another_client, assert_problem, ok, store_with_ticket, ticket_path


def count_tickets(api, store) -> int:
    return len(ok(api.get("/v1/tickets", store.owner_token, params={"limit": 100}))["items"])


def in_parallel(api, count, call) -> list:
    """``call(client, n)`` from ``count`` threads released together; their results."""
    barrier, results, errors = threading.Barrier(count), [None] * count, []

    def run(n):
        client = another_client(api)
        try:
            barrier.wait(timeout=10)
            results[n] = call(client, n)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


# --- validation: refused, named, nothing stored -----------------------------------------------


def test_bad_ticket_bodies_are_refused_naming_the_field_and_store_nothing(api):
    store = api.new_store()
    _, customer = api.customer_token(store)
    api.open_ticket(customer)
    good = {"subject": "Hello", "body": "World"}

    cases = [
        ({**good, "colour": "red"}, "colour"),  # unknown field
        ({**good, "status": "closed"}, "status"),  # not settable on create
        ({**good, "subject": 5}, "subject"),  # wrong type
        ({**good, "subject": "x" * 201}, "subject"),  # too long
        ({**good, "subject": ""}, "subject"),  # too short
        ({"subject": "Hello"}, "body"),  # missing
        ({**good, "priority": "whenever"}, "priority"),
        ({**good, "type": "Not A Type"}, "type"),
        ({**good, "attachments": [{"filename": "a.png", "url": "ftp://x/a.png"}]}, "attachments.0.url"),
    ]
    for body, field in cases:
        assert_problem(api.post("/v1/tickets", customer, json=body), 400, "invalid_request", [field])
    assert_problem(api.post("/v1/tickets", customer, json={}), 400, fields=["subject", "body"])

    # A subject of exactly 200 characters is fine.
    assert api.post("/v1/tickets", customer, json={**good, "subject": "x" * 200}).status_code == 201
    assert count_tickets(api, store) == 2


def test_bodies_that_are_not_json_objects_are_refused(api):
    store = api.new_store()
    _, customer = api.customer_token(store)
    headers = {"Content-Type": "application/json"}

    assert_problem(api.post("/v1/tickets", customer, data="{not json", headers=headers), 400, "malformed_json")
    assert_problem(api.post("/v1/tickets", customer, data='["a list"]', headers=headers), 400, fields=["_schema"])
    r = api.post("/v1/tickets", customer, data="subject=Hello&body=World")  # a form
    assert_problem(r, 415, "unsupported_media_type")
    r = api.post("/v1/tickets", customer, data='{"subject": "Hello", "body": "World"}',
                 headers={"Content-Type": "text/plain"})
    assert_problem(r, 415)
    assert count_tickets(api, store) == 0


def test_a_customer_may_not_open_a_ticket_for_someone_else(api):
    store = api.new_store()
    _, customer = api.customer_token(store)

    r = api.post("/v1/tickets", customer, json={"subject": "Hi", "body": "There", "customer_id": "cus_other"})

    body = assert_problem(r, r.status_code, fields=["customer_id"])
    assert r.status_code in (400, 403, 422), body
    assert count_tickets(api, store) == 0


def test_staff_must_name_the_customer(api):
    store = api.new_store()

    r = api.post("/v1/tickets", store.owner_token, json={"subject": "Hi", "body": "There"})

    assert_problem(r, 422, fields=["customer_id"])
    assert count_tickets(api, store) == 0


def test_bad_command_bodies_are_refused_and_change_nothing(api):
    store, customer, ticket, path = store_with_ticket(api)
    staff = store.owner_token
    ok(api.post(f"{path}/status", staff, json={"status": "solved"}))

    cases = [
        (customer, f"{path}/rating", {"score": 6}, "score"),
        (customer, f"{path}/rating", {"score": 0}, "score"),
        (customer, f"{path}/rating", {"score": "5"}, "score"),
        (customer, f"{path}/rating", {"score": True}, "score"),
        (customer, f"{path}/rating", {"score": 4.5}, "score"),
        (customer, f"{path}/rating", {}, "score"),
        (customer, f"{path}/rating", {"score": 5, "comment": "x" * 2001}, "comment"),
        (staff, f"{path}/status", {"status": "done"}, "status"),
        (staff, f"{path}/status", {"status": "on_hold", "label": "x" * 101}, "label"),
        (staff, f"{path}/status", {}, "status"),
        (staff, f"{path}/replies", {}, "body"),
        (staff, f"{path}/replies", {"body": "x" * 10_001}, "body"),
        (staff, f"{path}/replies", {"body": "hi", "internal": True}, "internal"),
        (staff, f"{path}/notes", {"body": 42}, "body"),
        (staff, f"{path}/tags", {"tag": ["a"]}, "tag"),
        (staff, f"{path}/assign", {}, "_schema"),
        (staff, f"{path}/assign", {"agent_id": "has spaces"}, "agent_id"),
    ]
    for token, url, body, field in cases:
        assert_problem(api.post(url, token, json=body), 400, "invalid_request", [field])
    assert_problem(api.patch(path, staff, json={}), 400, fields=["_schema"])
    assert_problem(api.patch(path, staff, json={"priority": "asap"}), 400, fields=["priority"])
    assert_problem(api.patch(path, staff, json={"status": "open"}), 400, fields=["status"])

    after = ok(api.get(path, staff))
    assert (after["version"], after["status"], after["rating"]) == (2, "solved", None)


def test_domain_rules_refuse_with_422_naming_the_field(api):
    store = api.new_store()
    _, customer = api.customer_token(store)
    path = ticket_path(api.open_ticket(customer))
    staff = store.owner_token

    # A label belongs to on_hold only; tags follow a pattern.
    assert_problem(api.post(f"{path}/status", staff, json={"status": "pending", "label": "why"}), 422,
                   fields=["label"])
    assert_problem(api.post(f"{path}/tags", staff, json={"tag": "no spaces allowed"}), 422, fields=["tag"])
    assert ok(api.get(path, staff))["version"] == 1


def test_a_nul_character_in_a_list_filter_is_a_bad_request(api):
    store = api.new_store()
    _, customer = api.customer_token(store)
    api.open_ticket(customer)

    # PostgreSQL text cannot hold NUL: the gateway should refuse it like any bad value.
    answers = {name: api.get("/v1/tickets", store.owner_token, params={name: "a\x00b"})
               for name in ("q", "team", "tag", "type", "customer_id", "assignee_id")}
    assert {name: r.status_code for name, r in answers.items()} == dict.fromkeys(answers, 400)
    for name, r in answers.items():
        assert_problem(r, 400, fields=[name])


# --- If-Match --------------------------------------------------------------------------------


def test_a_stale_if_match_is_refused_and_changes_nothing(api):
    store = api.new_store()
    _, customer = api.customer_token(store)
    r = api.post("/v1/tickets", customer, json={"subject": "Hi", "body": "There"})
    etag = r.headers["ETag"]
    path = ticket_path(r.json())
    staff = store.owner_token
    ok(api.post(f"{path}/tags", staff, json={"tag": "first"}))  # now at version 2

    for method, url, body in (("POST", f"{path}/replies", {"body": "late"}), ("PATCH", path, {"priority": "low"}),
                              ("POST", f"{path}/tags", {"tag": "second"}),
                              ("POST", f"{path}/status", {"status": "pending"}),
                              ("DELETE", f"{path}/tags/first", None)):
        r = api.request(method, url, staff, headers={"If-Match": etag}, **({"json": body} if body else {}))
        assert_problem(r, 412, fields=["If-Match"])

    current = api.get(path, staff)
    assert current.headers["ETag"] == '"2"'
    assert (current.json()["tags"], len(current.json()["messages"])) == (["first"], 1)

    # The current ETag goes through, and the next ETag follows.
    r = api.post(f"{path}/replies", staff, json={"body": "on time"}, headers={"If-Match": current.headers["ETag"]})
    assert ok(r)["version"] == 3 and r.headers["ETag"] == '"3"'
    assert ok(api.patch(path, staff, json={"priority": "low"}, headers={"If-Match": '"3"'}))["priority"] == "low"


def test_a_malformed_if_match_is_a_bad_request(api):
    store = api.new_store()
    _, customer = api.customer_token(store)
    path = ticket_path(api.open_ticket(customer))

    assert_problem(api.post(f"{path}/replies", customer, json={"body": "x"}, headers={"If-Match": "yesterday"}),
                   400, fields=["If-Match"])
    assert ok(api.get(path, customer))["version"] == 1


def test_concurrent_writers_without_if_match_all_land(api):
    store = api.new_store()
    _, customer = api.customer_token(store)
    path = ticket_path(api.open_ticket(customer))
    staff = store.owner_token

    def reply(client, n):
        return client.post(f"{path}/replies", staff, json={"body": f"reply number {n}"})

    responses = in_parallel(api, 10, reply)

    assert [r.status_code for r in responses] == [200] * 10, [r.text for r in responses if r.status_code != 200]
    final = ok(api.get(path, staff))
    assert final["version"] == 1 + 10
    assert sorted(m["body"] for m in final["messages"][1:]) == sorted(f"reply number {n}" for n in range(10))
    # Each writer saw its own reply in the state it answered with.
    for n, r in enumerate(responses):
        assert f"reply number {n}" in [m["body"] for m in r.json()["messages"]]


# --- Idempotency-Key -------------------------------------------------------------------------


def test_the_same_key_and_body_opens_one_ticket(api):
    store = api.new_store()
    _, customer = api.customer_token(store)
    key = {"Idempotency-Key": f"open-{uuid.uuid4()}"}
    body = {"subject": "Double click", "body": "I pressed send twice."}

    first = api.post("/v1/tickets", customer, json=body, headers=key)
    again = api.post("/v1/tickets", customer, json=body, headers=key)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert count_tickets(api, store) == 1
    # The next ticket takes the next number: the replay used none.
    assert api.open_ticket(customer)["number"] == first.json()["number"] + 1


def test_a_replayed_reply_adds_one_message(api):
    store = api.new_store()
    _, customer = api.customer_token(store)
    path = ticket_path(api.open_ticket(customer))
    key = {"Idempotency-Key": "reply-1"}

    first = api.post(f"{path}/replies", customer, json={"body": "Are you there?"}, headers=key)
    ok(api.post(f"{path}/replies", store.owner_token, json={"body": "Yes!"}))  # meanwhile
    again = api.post(f"{path}/replies", customer, json={"body": "Are you there?"}, headers=key)

    assert ok(first)["version"] == 2
    # The first response again: the ticket as the first request left it.
    assert ok(again) == first.json() and again.headers["Idempotent-Replayed"] == "true"
    ticket = ok(api.get(path, customer))
    assert [m["body"] for m in ticket["messages"]] == ["I paid twice and got no order.", "Are you there?", "Yes!"]
    assert ticket["version"] == 3


def test_a_key_reused_with_another_body_is_refused(api):
    store = api.new_store()
    _, customer = api.customer_token(store)
    key = {"Idempotency-Key": "one-key"}
    ok(api.post("/v1/tickets", customer, json={"subject": "First", "body": "one"}, headers=key), 201)

    r = api.post("/v1/tickets", customer, json={"subject": "Second", "body": "two"}, headers=key)

    assert_problem(r, 422, "idempotency_key_reused", ["Idempotency-Key"])
    items = ok(api.get("/v1/tickets", store.owner_token))["items"]
    assert [i["subject"] for i in items] == ["First"]
    # Another route with the same key is another request too.
    path = f"/v1/tickets/{items[0]['id']}"
    assert_problem(api.post(f"{path}/replies", customer, json={"body": "one"}, headers=key), 422,
                   "idempotency_key_reused")
    assert ok(api.get(path, customer))["version"] == 1


def test_keys_belong_to_their_caller(api):
    store = api.new_store()
    _, ann = api.customer_token(store)
    _, bob = api.customer_token(store)
    key = {"Idempotency-Key": "shared-key"}
    body = {"subject": "Same words", "body": "Same words"}

    first = ok(api.post("/v1/tickets", ann, json=body, headers=key), 201)
    second = ok(api.post("/v1/tickets", bob, json=body, headers=key), 201)

    assert first["id"] != second["id"] and first["customer_id"] != second["customer_id"]
    assert count_tickets(api, store) == 2


def test_the_same_key_sent_concurrently_opens_one_ticket(api):
    store = api.new_store()
    _, customer = api.customer_token(store)
    key = {"Idempotency-Key": f"race-{uuid.uuid4()}"}
    body = {"subject": "Flaky network", "body": "Retried by the app."}

    responses = in_parallel(api, 6, lambda client, n: client.post("/v1/tickets", customer, json=body, headers=key))

    assert [r.status_code for r in responses] == [201] * 6, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert len({r.json()["number"] for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 5
    assert count_tickets(api, store) == 1


def test_an_invalid_idempotency_key_is_a_bad_request(api):
    store = api.new_store()
    _, customer = api.customer_token(store)

    r = api.post("/v1/tickets", customer, json={"subject": "a", "body": "b"}, headers={"Idempotency-Key": "x" * 256})

    assert_problem(r, 400, fields=["Idempotency-Key"])
    assert count_tickets(api, store) == 0


# --- request ids ---------------------------------------------------------------------------


def test_every_response_carries_a_request_id(api):
    store = api.new_store()

    # A valid id sent by the client comes back, on success and on error.
    for path, token in (("/v1/tickets", store.owner_token), ("/v1/tickets", None), ("/nowhere", None),
                        ("/health/live", None)):
        r = api.get(path, token, headers={"X-Request-Id": "client-req.42:a_b"})
        assert r.headers["X-Request-Id"] == "client-req.42:a_b", path
    assert api.get("/v1/tickets", headers={"X-Request-Id": "client-req.42"}).json()["request_id"] == "client-req.42"

    # Otherwise (absent, or not a valid id) the gateway makes a fresh one.
    seen = set()
    for headers in ({}, {"X-Request-Id": "has spaces in it"}, {"X-Request-Id": "x" * 65}, {"X-Request-Id": ""}):
        r = api.get("/v1/tickets", store.owner_token, headers=headers)
        generated = r.headers["X-Request-Id"]
        assert generated and re.fullmatch(r"[A-Za-z0-9._:-]{8,64}", generated), generated
        assert generated != headers.get("X-Request-Id")
        seen.add(generated)
    assert len(seen) == 4


# --- the OpenAPI document -------------------------------------------------------------------


def gateway_routes() -> set[tuple[str, str]]:
    """(method, OpenAPI path) of every route the gateway serves, from its entrypoints."""
    found = set()
    members = {}
    for cls in reversed(GatewayService.__mro__):  # the self-service routes live in a base class
        members.update(vars(cls))
    for attribute in members.values():
        for entrypoint in getattr(attribute, "nameko_entrypoints", ()):
            if entrypoint.url == "/<path:path>":
                continue  # the catch-all that answers 404
            path = re.sub(r"<(?:[a-z]+:)?([A-Za-z_]+)>", r"{\1}", entrypoint.url)
            found.update((method.lower(), path) for method in entrypoint.method.split(","))
    return found


def test_the_openapi_document_describes_every_route(api):
    r = api.get("/v1/openapi.json")
    document = ok(r)

    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] and document["info"]["version"]
    documented = {(method, path) for path, operations in document["paths"].items()
                  for method in operations if method in ("get", "post", "put", "patch", "delete")}
    routes = gateway_routes()
    assert len(routes) >= 20
    assert routes - documented == set(), "routes missing from the document"
    assert documented - routes == set(), "documented routes that do not exist"
    # Spot checks of the ticket routes the issue lists.
    for method, path in (("post", "/v1/tickets"), ("get", "/v1/tickets/{ticket_id}/history"),
                         ("delete", "/v1/tickets/{ticket_id}/tags/{tag}"), ("patch", "/v1/tickets/{ticket_id}"),
                         ("post", "/v1/tickets/{ticket_id}/rating"), ("get", "/v1/events")):
        assert (method, path) in documented
    assert "201" in document["paths"]["/v1/tickets"]["post"]["responses"]
    assert "Problem" in document["components"]["schemas"]


# --- health and unknown routes --------------------------------------------------------------


def test_health_endpoints_answer_without_a_token(api):
    live = api.get("/health/live")
    assert ok(live) == {"status": "ok"}

    ready = ok(api.get("/health/ready"))
    assert ready["status"] == "ok"
    assert ready["checks"] == {"database": "ok", "rabbitmq": "ok"}


def test_an_unknown_route_is_a_problem_404(api):
    store = api.new_store()
    # Unknown paths, and known paths with a method they do not serve.
    for method, path in (("GET", "/v1/nothing-here"), ("POST", "/v2/tickets"), ("DELETE", "/v1/stores"),
                         ("PUT", "/v1/tickets"), ("PATCH", "/v1/tickets")):
        body = assert_problem(api.request(method, path, store.owner_token, json={}), 404, "no_route")
        assert path in body["detail"]
    assert_problem(api.get("/v1/nothing-here"), 404, "no_route")
    assert_problem(api.get("/v1/tickets/not-a-uuid", store.owner_token), 404)
