"""Idempotency keys without a database (seedwork.idempotency).

A fake connection plays the ``idempotency_keys`` table: the INSERT either
takes the key (rowcount 1) or finds it taken (rowcount 0), and the SELECT
answers with what the first request stored.
"""
from __future__ import annotations

import json

import pytest

from seedwork.errors import DomainError, IdempotencyKeyReused
from seedwork.idempotency import MAX_KEY_LENGTH, IdempotencyKeys, fingerprint

SCOPE = "store-1:agent:agt_1"
KEY = "3f0c6d9e-order-1042"
BODY = {"subject": "Where is my parcel?", "body": "Ordered a week ago.", "priority": "high"}
PRINT = fingerprint("POST", "/v1/tickets", BODY)
FIRST_RESPONSE = {"status": 201, "ticket_id": "9b1f0c1e-0000-4000-8000-000000000001", "version": 1}


class Result:
    def __init__(self, rowcount=-1, row=None):
        self.rowcount = rowcount
        self.row = row

    def fetchone(self):
        return self.row


class FakeConnection:
    """The key table as one row: absent (the insert takes it) or already there."""

    def __init__(self, stored: tuple[str, object] | None = None):
        self.stored = stored
        self.statements: list[tuple[str, tuple]] = []

    def execute(self, sql, params):
        self.statements.append((sql, tuple(params)))
        if sql.startswith("INSERT"):
            return Result(rowcount=0 if self.stored else 1)
        if sql.startswith("SELECT"):
            return Result(row=self.stored)
        return Result(rowcount=1)


# --- a fingerprint names the request, not the way its JSON was written ----------------------


def test_the_fingerprint_ignores_key_order_at_every_depth():
    a = {"subject": "s", "body": "b", "attachments": [{"filename": "a.png", "url": "https://x.test/a.png"}]}
    b = {"attachments": [{"url": "https://x.test/a.png", "filename": "a.png"}], "body": "b", "subject": "s"}
    assert fingerprint("POST", "/v1/tickets", a) == fingerprint("POST", "/v1/tickets", b)


def test_the_fingerprint_is_a_stable_sha256_hex_digest():
    assert PRINT == fingerprint("POST", "/v1/tickets", dict(BODY))
    assert len(PRINT) == 64 and int(PRINT, 16) >= 0


@pytest.mark.parametrize("other", [
    ("GET", "/v1/tickets", BODY),
    ("POST", "/v1/stores", BODY),
    ("POST", "/v1/tickets", {**BODY, "priority": "low"}),
    ("POST", "/v1/tickets", {**BODY, "order_id": "ord_1"}),
    ("POST", "/v1/tickets", {k: v for k, v in BODY.items() if k != "priority"}),
    ("POST", "/v1/tickets", {**BODY, "priority": None}),
    ("POST", "/v1/tickets", {}),
], ids=["method", "path", "value", "extra field", "missing field", "null field", "empty body"])
def test_any_difference_in_method_path_or_body_changes_the_fingerprint(other):
    assert fingerprint(*other) != PRINT


def test_numbers_and_strings_are_not_confused():
    assert fingerprint("POST", "/v1/x", {"score": 5}) != fingerprint("POST", "/v1/x", {"score": "5"})


def test_list_order_matters():
    assert fingerprint("POST", "/v1/x", {"steps": [1, 2]}) != fingerprint("POST", "/v1/x", {"steps": [2, 1]})


def test_a_part_cannot_leak_into_its_neighbour():
    assert fingerprint("POST", "/v1/ticketsX", {}) != fingerprint("POST", "/v1/tickets", "X")
    assert fingerprint("POST/v1/tickets", {}) != fingerprint("POST", "/v1/tickets", {})


# --- claiming a key ----------------------------------------------------------------------------


def test_a_new_key_is_taken_and_the_command_runs():
    keys, conn = IdempotencyKeys("helpdesk_tickets"), FakeConnection()
    assert keys.claim(conn, SCOPE, KEY, PRINT) is None
    [(sql, params)] = conn.statements  # nothing read back
    assert sql.startswith("INSERT INTO helpdesk_tickets.idempotency_keys")
    assert "ON CONFLICT DO NOTHING" in sql
    assert params == (SCOPE, KEY, PRINT)


def test_the_same_request_again_gets_the_first_response():
    keys, conn = IdempotencyKeys("helpdesk_tickets"), FakeConnection(stored=(PRINT, FIRST_RESPONSE))
    assert keys.claim(conn, SCOPE, KEY, fingerprint("POST", "/v1/tickets", dict(reversed(BODY.items())))) \
        == FIRST_RESPONSE
    (_, _), (select, params) = conn.statements
    assert select.startswith("SELECT fingerprint, response FROM helpdesk_tickets.idempotency_keys")
    assert params == (SCOPE, KEY)


def test_the_same_key_with_another_request_is_refused():
    keys, conn = IdempotencyKeys("helpdesk_tickets"), FakeConnection(stored=(PRINT, FIRST_RESPONSE))
    other = fingerprint("POST", "/v1/tickets", {**BODY, "priority": "low"})
    with pytest.raises(IdempotencyKeyReused) as info:
        keys.claim(conn, SCOPE, KEY, other)
    error = info.value
    assert isinstance(error, DomainError)
    assert error.code == "idempotency_key_reused"
    assert list(error.errors) == ["Idempotency-Key"]
    assert error.errors["Idempotency-Key"]


def test_a_refused_key_reaches_the_client_as_422_naming_the_header():
    from services.gateway.http import response_for_error

    keys, conn = IdempotencyKeys("helpdesk_tickets"), FakeConnection(stored=(PRINT, FIRST_RESPONSE))
    with pytest.raises(IdempotencyKeyReused) as info:
        keys.claim(conn, SCOPE, KEY, fingerprint("POST", "/v1/stores", BODY))
    response = response_for_error(info.value, "req-1")
    assert response.status_code == 422
    assert "Idempotency-Key" in json.loads(response.get_data(as_text=True))["errors"]


def test_the_key_is_looked_up_in_the_callers_scope_only():
    keys, conn = IdempotencyKeys("helpdesk_tickets"), FakeConnection(stored=(PRINT, FIRST_RESPONSE))
    keys.claim(conn, "store-2:agent:agt_9", KEY, PRINT)
    assert all(params[:2] == ("store-2:agent:agt_9", KEY) for _, params in conn.statements)


# --- recording the response ---------------------------------------------------------------------


def test_the_response_is_recorded_as_json_on_the_claimed_row():
    keys, conn = IdempotencyKeys("helpdesk_tickets"), FakeConnection()
    keys.record(conn, SCOPE, KEY, FIRST_RESPONSE)
    [(sql, (response, scope, key))] = conn.statements
    assert sql.startswith("UPDATE helpdesk_tickets.idempotency_keys SET response = %s")
    assert response.obj == FIRST_RESPONSE  # wrapped for a jsonb column
    assert (scope, key) == (SCOPE, KEY)


# --- statements are built once, from a checked schema name ------------------------------------------


@pytest.mark.parametrize("schema", ["x; drop table y", "a.b", "Tickets", ""])
def test_an_unsafe_schema_name_is_refused(schema):
    with pytest.raises(ValueError, match="schema"):
        IdempotencyKeys(schema)


def test_keys_are_bound_never_interpolated():
    sneaky = "k'); DROP TABLE idempotency_keys; --"
    keys, conn = IdempotencyKeys("helpdesk_gateway"), FakeConnection()
    keys.claim(conn, SCOPE, sneaky, PRINT)
    sql, params = conn.statements[0]
    assert sneaky not in sql and sneaky in params


def test_the_longest_key_is_255_characters():
    assert MAX_KEY_LENGTH == 255
