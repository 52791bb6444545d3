"""An HTTP client of the API for end-to-end tests, and the assertions every
end-to-end test file makes about answers."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

import requests

PROBLEM_JSON = "application/problem+json"


@dataclass
class Store:
    id: str
    owner_token: str


class Api:
    """A thin HTTP client: ``api.post("/v1/tickets", token, json={...})``."""

    def __init__(self, base_url: str, platform_key: str):
        self.base_url = base_url
        self.platform_key = platform_key
        self.http = requests.Session()

    def request(self, method, path, token=None, **kwargs) -> requests.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.request(method, self.base_url + path, headers=headers, timeout=30, **kwargs)

    def get(self, path, token=None, **kw):
        return self.request("GET", path, token, **kw)

    def post(self, path, token=None, **kw):
        return self.request("POST", path, token, **kw)

    def delete(self, path, token=None, **kw):
        return self.request("DELETE", path, token, **kw)

    def patch(self, path, token=None, **kw):
        return self.request("PATCH", path, token, **kw)

    def put(self, path, token=None, **kw):
        return self.request("PUT", path, token, **kw)

    def upload(self, path, token, filename: str, content: bytes, content_type="application/octet-stream", **kw):
        """``multipart/form-data`` with the file in the part named ``file``."""
        return self.request("POST", path, token, files={"file": (filename, content, content_type)}, **kw)

    # --- set-up in a few words ---------------------------------------------------

    def new_store(self, name="Test store") -> Store:
        r = self.post("/v1/stores", self.platform_key, json={"name": name})
        assert r.status_code == 201, r.text
        return Store(r.json()["id"], r.json()["owner_token"])

    def new_agent(self, store: Store, role="agent", name="Sara") -> dict:
        email = f"{uuid.uuid4().hex[:8]}@example.com"
        r = self.post("/v1/agents", store.owner_token, json={"name": name, "email": email, "role": role})
        assert r.status_code == 201, r.text
        return r.json()

    def new_customer(self, store: Store, name="Noura", mobile=None, **fields) -> dict:
        """A customer card; a random Saudi mobile unless one is given."""
        mobile = mobile or f"+96650{uuid.uuid4().int % 10**7:07d}"  # 50: a Saudi mobile range
        r = self.post("/v1/customers", store.owner_token, json={"name": name, "mobile": mobile, **fields})
        assert r.status_code == 201, r.text
        return r.json()

    def customer_token(self, store: Store, customer_id=None) -> tuple[str, str]:
        """A help-widget session (and a new customer card unless ``customer_id`` names one)."""
        customer_id = customer_id or self.new_customer(store)["id"]
        r = self.post(f"/v1/customers/{customer_id}/sessions", store.owner_token)
        assert r.status_code == 201, r.text
        return customer_id, r.json()["token"]

    def new_team(self, store: Store, name="Shipping", **fields) -> str:
        """A team of the store (created by its owner); its id, what a ticket's ``team`` is."""
        r = self.post("/v1/teams", store.owner_token, json={"name": name, **fields})
        assert r.status_code == 201, r.text
        return r.json()["id"]

    def open_ticket(self, token, **fields) -> dict:
        body = {"subject": "Charged but no order number", "body": "I paid twice and got no order.", **fields}
        r = self.post("/v1/tickets", token, json=body)
        assert r.status_code == 201, r.text
        return r.json()


def another_client(api: Api) -> Api:
    """A client with its own connection pool: one per thread."""
    return Api(api.base_url, api.platform_key)


def ticket_path(ticket: dict) -> str:
    return f"/v1/tickets/{ticket['id']}"


def ok(response, status=200) -> dict:
    """The JSON body of a response that has ``status``."""
    assert response.status_code == status, response.text
    return response.json()


def assert_problem(response: requests.Response, status: int, code: str | None = None, fields=()) -> dict:
    """``response`` is an application/problem+json refusal with ``status`` (and
    ``code``), whose ``errors`` name each of ``fields``; returns its body."""
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.text}"
    assert response.headers["Content-Type"].startswith(PROBLEM_JSON), response.headers["Content-Type"]
    body = response.json()
    assert {"type", "title", "status", "detail", "code", "errors"} <= body.keys(), body
    assert body["status"] == status, body
    if code is not None:
        assert body["code"] == code, body
    for name in fields:
        assert name in body["errors"] and body["errors"][name], f"{name!r} not named in {body['errors']}"
    return body


def event_feed(api: Api, token: str, **params) -> list[dict]:
    """Every event ``GET /v1/events`` gives this caller now, page after page
    (one source's: the tickets service's unless ``source=`` names another)."""
    events, after = [], "0"
    while True:
        page = ok(api.get("/v1/events", token, params={"after": after, "limit": 1000, **params}))
        events += page["items"]
        if page["next_after"] == after:  # a page may be empty (all hidden from the caller) and the feed go on
            return events
        after = page["next_after"]


def whole_feed(api: Api, token: str, cursor: str | None = None, limit: int = 1000,
               **params) -> tuple[list[dict], str]:
    """Every event of every source ``GET /v1/events?source=all`` gives this
    caller after ``cursor``, page after page, and the cursor to resume from."""
    events = []
    while True:
        query = {"cursor": cursor} if cursor else {"source": "all"}
        page = ok(api.get("/v1/events", token, params={**query, "limit": limit, **params}))
        events += page["items"]
        if page["next_cursor"] == cursor:
            return events, cursor
        cursor = page["next_cursor"]


def store_with_ticket(api: Api) -> tuple[Store, str, dict, str]:
    """A new store, a shopper's token and the ticket they opened, and its path."""
    store = api.new_store()
    _, shopper = api.customer_token(store)
    ticket = api.open_ticket(shopper)
    return store, shopper, ticket, ticket_path(ticket)


def assert_not_found_or_forbidden(api: Api, tokens: dict[str, str], routes, leaks) -> int:
    """Every route of another store's objects, for each role: 404 where the
    role may use the route (as for what does not exist), 403 where it never
    may, and none of ``leaks`` in the answer. ``routes`` are ``(method, path,
    body, roles)``; the number of requests checked is returned."""
    checked = 0
    for role, token in tokens.items():
        for method, path, body, roles in routes:
            r = api.request(method, path, token, **({"json": body} if body is not None else {}))
            expected = 404 if role in roles else 403
            assert r.status_code == expected, f"{role} {method} {path}: {r.status_code} {r.text}"
            assert_problem(r, expected)
            for leak in leaks:
                assert leak not in r.text, f"{role} {method} {path} leaked {leak!r}: {r.text}"
            checked += 1
    return checked

