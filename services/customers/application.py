"""The customers service layer: one command = one transaction (lock, load,
decide, append, project, record the idempotency key).

Plain Python over the event store; ``service.py`` exposes it over Nameko.
A caller is the dict the gateway resolved from a token:
``{"store_id", "kind", "id", "role"}``; every read and write is scoped to its
store, and another store's ids are answered like ids that do not exist.
"""
from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import uuid
from datetime import date, datetime, timezone
from typing import Callable

from seedwork import db  # noqa: F401  (first: it picks psycopg's wait function)
import psycopg
from psycopg.types.json import Jsonb

from seedwork.envelope import SYSTEM, Actor, Envelope, NewEvent, iso, to_cloudevent, utcnow
from seedwork.errors import Conflict, DomainError, InvalidCommand, InvalidQuery, NotFound, PreconditionFailed
from seedwork.idempotency import IdempotencyKeys
from seedwork.store import EventStore

from . import fraud, groups, orders
from .domain import (ApplyFlag, BlockCustomer, Command, CreateCustomer, CustomerState, LiftFlag, UnblockCustomer,
                     UpdateCustomer, decide, fold, message_fields)
from .listing import CustomerFilter, CustomerQuery, list_cards
from .normalise import fold_text, normalise_mobile
from .projection import ORDER_COLUMNS, Projection, card_view, order_view
from .settings import DEFAULTS, clean_settings

log = logging.getLogger(__name__)

PLATFORM_ACTOR = Actor("platform")
STOREFRONT_BASE_URL = os.environ.get("STOREFRONT_BASE_URL", "http://localhost:8080/stores")
MAX_RATING_ORDERS = 50
MAX_BULK_IDS = 10000


def actor_of(caller: dict) -> Actor:
    return Actor(caller["kind"], caller["id"])


def _lock(conn: psycopg.Connection, key: str) -> None:
    # Writers of one stream queue here rather than race and retry.
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (key,))


def _customer_id(customer_id: str) -> str:
    try:
        return str(uuid.UUID(customer_id))
    except (ValueError, TypeError, AttributeError):
        raise NotFound("customer_not_found", f"no customer {customer_id}") from None


def _encode(values: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def _decode(cursor: str, size: int) -> list:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != size:
            raise ValueError
        return values
    except (ValueError, binascii.Error, json.JSONDecodeError):
        raise InvalidQuery.field("cursor", "not a cursor from this list: start again without it") from None


def _page_limit(query: dict) -> int:
    raw = query.get("limit", 25)
    try:
        limit = int(raw)
    except (TypeError, ValueError):
        raise InvalidQuery.field("limit", "an integer") from None
    if not 1 <= limit <= 100:
        raise InvalidQuery.field("limit", "must be between 1 and 100")
    return limit


class Customers:
    def __init__(self, store: EventStore, rules: tuple[fraud.Rule, ...] = fraud.DEFAULT_RULES,
                 clock: Callable[[], datetime] = utcnow):
        self.store = store
        self.schema = s = store.schema
        self.projection = Projection(s)
        self.keys = IdempotencyKeys(s)
        self.rules = rules
        self.clock = clock

    def _today(self) -> date:
        return self.clock().astimezone(timezone.utc).date()

    # --- idempotency --------------------------------------------------------------

    @staticmethod
    def _scope(caller: dict) -> str:
        return f"{caller['store_id']}:{caller['kind']}:{caller['id']}"

    def _claim(self, conn, caller: dict, idempotency) -> dict | None:
        if not idempotency:
            return None
        key, request_print = idempotency
        recorded = self.keys.claim(conn, self._scope(caller), key, request_print)
        return None if recorded is None else {**recorded, "replayed": True}

    def _record(self, conn, caller: dict, idempotency, result: dict) -> dict:
        if idempotency:
            self.keys.record(conn, self._scope(caller), idempotency[0], result)
        return result

    # --- the customer stream ------------------------------------------------------

    def _load(self, conn, store_id: str, customer_id: str, lock: bool = False) -> CustomerState:
        customer_id = _customer_id(customer_id)
        if lock:
            _lock(conn, f"customer:{customer_id}")
        state = fold(self.store.load(customer_id, conn=conn))
        if state is None or state.store_id != store_id:
            raise NotFound("customer_not_found", f"no customer {customer_id}")
        return state

    def _write(self, conn, state: CustomerState | None, stream_id: str, events: list[NewEvent]) -> CustomerState:
        if not events:
            return state
        stored = self.store.append(stream_id, state.version if state else 0, events, conn=conn)
        state = fold(stored, state)
        try:
            with conn.transaction():  # a savepoint: a taken mobile leaves the transaction usable
                self.projection.upsert_card(conn, state)
        except psycopg.errors.UniqueViolation:
            raise Conflict("mobile_taken", f"another customer of this store has the mobile {state.mobile}",
                           {"mobile": ["another customer of this store has this mobile"]}) from None
        return state

    def _run(self, conn, state: CustomerState | None, command: Command, stream_id: str | None = None) -> CustomerState:
        events = decide(state, command, self._today())
        state = self._write(conn, state, stream_id or state.id, events)
        return self._sync_flags(conn, state)

    def _sync_flags(self, conn, state: CustomerState) -> CustomerState:
        """The card shows exactly the platform's active flags on its mobile."""
        rows = conn.execute(f"SELECT id, code, public_reason, raised_at FROM {self.schema}.flags "
                            "WHERE mobile = %s AND status = 'active'", (state.mobile,)).fetchall()
        active = {str(r[0]): r for r in rows}
        events = []
        for flag_id, code, reason, raised_at in rows:
            events += decide(state, ApplyFlag(actor=SYSTEM, flag_id=str(flag_id), code=code, reasons=(reason,),
                                              raised_at=iso(raised_at)), self._today())
        for flag_id in state.flags:
            if flag_id not in active:
                events += decide(state, LiftFlag(actor=SYSTEM, flag_id=flag_id), self._today())
        return self._write(conn, state, state.id, events)

    def _view(self, conn, store_id: str, customer_id: str) -> dict:
        view = self.projection.card(conn, store_id, customer_id)
        if view is None:
            raise NotFound("customer_not_found", f"no customer {customer_id}")
        return view

    def _region(self, conn, store_id: str) -> str:
        return self._settings(conn, store_id)["default_country"]

    # --- customer cards -----------------------------------------------------------

    def create(self, caller: dict, fields: dict, idempotency=None) -> dict:
        with self.store.transaction() as conn:
            replay = self._claim(conn, caller, idempotency)
            if replay is not None:
                return replay
            customer_id = str(uuid.uuid4())
            region = self._region(conn, caller["store_id"])
            state = self._create(conn, caller, customer_id, fields, region, "api")
            result = {"status": 201, "customer": self._view(conn, caller["store_id"], state.id)}
            self._record(conn, caller, idempotency, result)
        log.info("customer %s created in store %s", customer_id, caller["store_id"])
        return result

    def _create(self, conn, caller, customer_id, fields, region, source) -> CustomerState:
        command = CreateCustomer(actor=actor_of(caller), customer_id=customer_id, store_id=caller["store_id"],
                                 fields=fields, default_region=region, source=source)
        events = decide(None, command, self._today())
        mobile = events[0].data["mobile"]
        if self.projection.card_by_mobile(conn, caller["store_id"], mobile):
            raise Conflict("mobile_taken", f"another customer of this store has the mobile {mobile}",
                           {"mobile": ["another customer of this store has this mobile"]})
        state = self._write(conn, None, customer_id, events)
        return self._sync_flags(conn, state)

    def get(self, caller: dict, customer_id: str) -> dict:
        with self.store.pool.connection() as conn:
            return self._view(conn, caller["store_id"], _customer_id(customer_id))

    def update(self, caller: dict, customer_id: str, fields: dict, expected_version: int | None = None,
               idempotency=None) -> dict:
        with self.store.transaction() as conn:
            replay = self._claim(conn, caller, idempotency)
            if replay is not None:
                return replay
            state = self._load(conn, caller["store_id"], customer_id, lock=True)
            if expected_version is not None and state.version != expected_version:
                raise PreconditionFailed(
                    "version_mismatch",
                    f"customer {state.id} is at version {state.version}, not {expected_version}: reload it",
                    {"If-Match": [f"current version is {state.version}"]})
            region = self._region(conn, caller["store_id"])
            self._run(conn, state, UpdateCustomer(actor=actor_of(caller), fields=fields, default_region=region))
            result = {"status": 200, "customer": self._view(conn, caller["store_id"], state.id)}
            return self._record(conn, caller, idempotency, result)

    def block(self, caller: dict, customer_id: str, fields: dict, idempotency=None) -> dict:
        command = BlockCustomer(actor=actor_of(caller), reason=fields.get("reason"), details=fields.get("details"))
        return self._simple(caller, customer_id, command, idempotency)

    def unblock(self, caller: dict, customer_id: str, idempotency=None) -> dict:
        return self._simple(caller, customer_id, UnblockCustomer(actor=actor_of(caller)), idempotency)

    def _simple(self, caller, customer_id, command, idempotency) -> dict:
        with self.store.transaction() as conn:
            replay = self._claim(conn, caller, idempotency)
            if replay is not None:
                return replay
            state = self._load(conn, caller["store_id"], customer_id, lock=True)
            self._run(conn, state, command)
            result = {"status": 200, "customer": self._view(conn, caller["store_id"], state.id)}
            return self._record(conn, caller, idempotency, result)

    def list(self, caller: dict, query: dict) -> dict:
        q = CustomerQuery.from_dict(query)
        with self.store.pool.connection() as conn:
            return list_cards(conn, self.schema, self.projection.card_select, caller["store_id"], q, card_view)

    def standing(self, store_id: str, customer_id: str) -> dict:
        """What the gateway checks before a shopper's session or new ticket."""
        customer_id = _customer_id(customer_id)
        with self.store.pool.connection() as conn:
            row = conn.execute(f"SELECT blocked, block_reason, flagged FROM {self.schema}.cards "
                               "WHERE store_id = %s AND id = %s", (store_id, customer_id)).fetchone()
        if row is None:
            raise NotFound("customer_not_found", f"no customer {customer_id}")
        return {"customer_id": customer_id, "blocked": row[0], "block_reason": row[1], "flagged": row[2]}

    def import_rows(self, caller: dict, rows: list) -> dict:
        """A batch of CSV rows ``[[line, {column: text}]]``: created, updated
        (matched by mobile) or unchanged; bad rows reported, never stored.
        Sending the same file again changes nothing: every row is unchanged."""
        result = {"created": 0, "updated": 0, "unchanged": 0, "rejected": []}
        first_line_of: dict[str, int] = {}  # mobile -> line: a file names each customer once
        with self.store.transaction() as conn:
            region = self._region(conn, caller["store_id"])
            for line, cells in rows:
                # An empty cell means "no value here", not "clear it".
                fields = {k: v for k, v in cells.items() if isinstance(v, str) and v.strip()}
                try:
                    with conn.transaction():  # a savepoint per row: one bad row spoils nothing else
                        outcome, mobile = self._import_row(conn, caller, fields, region, first_line_of)
                    # Only a row that was imported claims its mobile for the rest of the file.
                    first_line_of[mobile] = line
                    result[outcome] += 1
                except DomainError as exc:
                    field = next(iter(exc.errors), None)
                    reason = exc.errors[field][0] if field else exc.detail
                    result["rejected"].append({"line": line, "field": field,
                                               "reason": f"{field}: {reason}" if field else reason})
        return result

    def _import_row(self, conn, caller, fields: dict, region: str, first_line_of: dict) -> tuple[str, str]:
        if "mobile" not in fields:
            raise InvalidCommand.field("mobile", "required")
        mobile = normalise_mobile(fields["mobile"], region)
        if mobile in first_line_of:
            # Two rows for one customer would make the file's result depend on their order.
            raise InvalidCommand.field("mobile", f"the same mobile as line {first_line_of[mobile]}")
        existing = self.projection.card_by_mobile(conn, caller["store_id"], mobile)
        if existing is None:
            self._create(conn, caller, str(uuid.uuid4()), fields, region, "import")
            return "created", mobile
        state = self._load(conn, caller["store_id"], existing[0], lock=True)
        before = state.version
        state = self._run(conn, state, UpdateCustomer(actor=actor_of(caller), fields=fields, default_region=region))
        return ("updated" if state.version != before else "unchanged"), mobile

    # --- groups -------------------------------------------------------------------

    def _group(self, conn, store_id: str, group_id: str, lock: bool = False) -> tuple:
        try:
            group_id = str(uuid.UUID(group_id))
        except (ValueError, TypeError, AttributeError):
            raise NotFound("group_not_found", f"no group {group_id}") from None
        if lock:
            _lock(conn, f"group:{group_id}")
        row = conn.execute(f"SELECT id, name, version, created_at FROM {self.schema}.groups "
                           "WHERE id = %s AND store_id = %s AND NOT deleted", (group_id, store_id)).fetchone()
        if row is None:
            raise NotFound("group_not_found", f"no group {group_id}")
        return str(row[0]), row[1], row[2], row[3]

    def _group_view(self, conn, store_id: str, group_id: str) -> dict:
        gid, name, _, created_at = self._group(conn, store_id, group_id)
        count = conn.execute(f"SELECT count(*) FROM {self.schema}.cards WHERE store_id = %s "
                             "AND groups @> ARRAY[%s]::uuid[]", (store_id, gid)).fetchone()[0]
        return {"id": gid, "name": name, "members_count": count, "created_at": iso(created_at)}

    def _group_events(self, conn, store_id, group_id, version, events) -> int:
        stored = self.store.append(group_id, version, events, conn=conn)
        conn.execute(f"UPDATE {self.schema}.groups SET version = %s WHERE id = %s", (stored[-1].version, group_id))
        return stored[-1].version

    def _name_taken(self, store_id: str, name: str) -> Conflict:
        return Conflict("group_name_taken", f"the store already has a group named {name!r}",
                        {"name": ["the store already has a group with this name"]})

    def create_group(self, caller: dict, fields: dict, idempotency=None) -> dict:
        name = groups.group_name(fields.get("name"))
        store_id = caller["store_id"]
        with self.store.transaction() as conn:
            replay = self._claim(conn, caller, idempotency)
            if replay is not None:
                return replay
            group_id = str(uuid.uuid4())
            event = NewEvent("customer_group.created", {"group_id": group_id, "name": name}, actor_of(caller),
                             store_id)
            stored = self.store.append(group_id, 0, [event], conn=conn)
            try:
                with conn.transaction():
                    conn.execute(f"INSERT INTO {self.schema}.groups (id, store_id, name, name_key, created_at, "
                                 "version) VALUES (%s, %s, %s, %s, %s, %s)",
                                 (group_id, store_id, name, fold_text(name), stored[0].occurred_at, 1))
            except psycopg.errors.UniqueViolation:
                raise self._name_taken(store_id, name) from None
            result = {"status": 201, "group": self._group_view(conn, store_id, group_id)}
            return self._record(conn, caller, idempotency, result)

    def list_groups(self, caller: dict) -> dict:
        with self.store.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT g.id, g.name, g.created_at, (SELECT count(*) FROM {self.schema}.cards c "
                f"  WHERE c.store_id = g.store_id AND c.groups @> ARRAY[g.id]) "
                f"FROM {self.schema}.groups g WHERE g.store_id = %s AND NOT g.deleted ORDER BY g.name_key, g.id",
                (caller["store_id"],)).fetchall()
        return {"items": [{"id": str(r[0]), "name": r[1], "created_at": iso(r[2]), "members_count": r[3]}
                          for r in rows]}

    def get_group(self, caller: dict, group_id: str) -> dict:
        with self.store.pool.connection() as conn:
            return self._group_view(conn, caller["store_id"], group_id)

    def rename_group(self, caller: dict, group_id: str, fields: dict) -> dict:
        name = groups.group_name(fields.get("name"))
        store_id = caller["store_id"]
        with self.store.transaction() as conn:
            gid, previous, version, _ = self._group(conn, store_id, group_id, lock=True)
            if name != previous:
                event = NewEvent("customer_group.renamed", {"group_id": gid, "name": name, "previous_name": previous},
                                 actor_of(caller), store_id)
                self._group_events(conn, store_id, gid, version, [event])
                try:
                    with conn.transaction():
                        conn.execute(f"UPDATE {self.schema}.groups SET name = %s, name_key = %s WHERE id = %s",
                                     (name, fold_text(name), gid))
                except psycopg.errors.UniqueViolation:
                    raise self._name_taken(store_id, name) from None
            return {"status": 200, "group": self._group_view(conn, store_id, gid)}

    def delete_group(self, caller: dict, group_id: str) -> dict:
        store_id = caller["store_id"]
        with self.store.transaction() as conn:
            gid, name, version, _ = self._group(conn, store_id, group_id, lock=True)
            event = NewEvent("customer_group.deleted", {"group_id": gid, "name": name}, actor_of(caller), store_id)
            self._group_events(conn, store_id, gid, version, [event])
            conn.execute(f"UPDATE {self.schema}.groups SET deleted = true WHERE id = %s", (gid,))
            conn.execute(f"UPDATE {self.schema}.cards SET groups = array_remove(groups, %s::uuid) "
                         "WHERE store_id = %s AND groups @> ARRAY[%s]::uuid[]", (gid, store_id, gid))
        return {"status": 204}

    def change_members(self, caller: dict, group_id: str, op: str, selection: dict) -> dict:
        """Add or remove customers, by ids or by a list filter, in one transaction."""
        if op not in ("add", "remove"):
            raise InvalidCommand.field("op", "add or remove")
        store_id = caller["store_id"]
        with self.store.transaction() as conn:
            gid, name, version, _ = self._group(conn, store_id, group_id, lock=True)
            where, params = self._selection(conn, store_id, selection)
            membership = "NOT (c.groups @> ARRAY[%s]::uuid[])" if op == "add" else "c.groups @> ARRAY[%s]::uuid[]"
            change = "array_append(c.groups, %s::uuid)" if op == "add" else "array_remove(c.groups, %s::uuid)"
            rows = conn.execute(
                f"UPDATE {self.schema}.cards c SET groups = {change} WHERE {' AND '.join(where)} AND {membership} "
                "RETURNING c.id", [gid, *params, gid]).fetchall()
            changed = sorted(str(r[0]) for r in rows)
            event_type = "customer_group.members_added" if op == "add" else "customer_group.members_removed"
            events = [NewEvent(event_type, {"group_id": gid, "name": name, "customer_ids": ids}, actor_of(caller),
                               store_id) for ids in groups.chunks(changed)]
            if events:
                self._group_events(conn, store_id, gid, version, events)
            return {"changed": len(changed), "group": self._group_view(conn, store_id, gid)}

    def _selection(self, conn, store_id: str, selection: dict) -> tuple[list, list]:
        has_ids, has_filter = "customer_ids" in selection, "filter" in selection
        if has_ids == has_filter:
            raise InvalidCommand("invalid_fields", "give either customer_ids or filter",
                                 {"customer_ids": ["give either customer_ids or filter"],
                                  "filter": ["give either customer_ids or filter"]})
        if has_filter:
            if not isinstance(selection["filter"], dict):
                raise InvalidCommand.field("filter", "an object of list filters")
            return CustomerFilter.from_dict(selection["filter"]).where(store_id)
        ids = selection["customer_ids"]
        if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_BULK_IDS:
            raise InvalidCommand.field("customer_ids", f"a list of 1 to {MAX_BULK_IDS} customer ids")
        try:
            ids = sorted({str(uuid.UUID(str(i))) for i in ids})
        except ValueError:
            raise InvalidCommand.field("customer_ids", "every item must be a customer id") from None
        found = {str(r[0]) for r in conn.execute(
            f"SELECT id FROM {self.schema}.cards WHERE store_id = %s AND id = ANY(%s::uuid[])", (store_id, ids))}
        missing = [i for i in ids if i not in found]
        if missing:
            shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
            raise InvalidCommand.field("customer_ids", f"not customers of this store: {shown}")
        return ["c.store_id = %s", "c.id = ANY(%s::uuid[])"], [store_id, ids]

    # --- orders -------------------------------------------------------------------

    def put_order(self, caller: dict, order_id: str, fields: dict) -> dict:
        """Record the store platform's order; the latest ``updated_at`` wins."""
        store_id = caller["store_id"]
        data = orders.clean_order(order_id, fields)
        stream_id = f"order:{store_id}:{order_id}"
        with self.store.transaction() as conn:
            try:
                customer = self._load(conn, store_id, data["customer_id"])
            except NotFound:
                raise InvalidCommand.field("customer_id", "no such customer in this store") from None
            data["customer_id"] = customer.id
            _lock(conn, stream_id)
            row = self.projection.order_row(conn, store_id, order_id)
            current = order_view(row) if row else None
            if current is not None:
                current_data = {**current, "order_id": current["id"]}
                if not orders.supersedes(data, current_data):
                    return {"status": 200, "order": current, "applied": False}
            data["previous_status"] = current["status"] if current else None
            event = NewEvent("order.recorded", data, actor_of(caller), store_id)
            stored = self.store.append(stream_id, current["version"] if current else 0, [event], conn=conn)
            self.projection.upsert_order(conn, store_id, data, stored[0].version)
            for cid in {customer.id, *([current["customer_id"]] if current else [])}:
                self.projection.refresh_order_figures(conn, store_id, cid)
            order = order_view(self.projection.order_row(conn, store_id, order_id))
        return {"status": 201 if current is None else 200, "order": order, "applied": True}

    def get_order(self, caller: dict, order_id: str) -> dict:
        with self.store.pool.connection() as conn:
            row = self.projection.order_row(conn, caller["store_id"], order_id)
        if row is None:
            raise NotFound("order_not_found", f"no order {order_id}")
        return order_view(row)

    def orders(self, caller: dict, customer_id: str, query: dict) -> dict:
        limit = _page_limit(query)
        with self.store.pool.connection() as conn:
            state_id = self._view(conn, caller["store_id"], _customer_id(customer_id))["id"]
            where, params = ["store_id = %s", "customer_id = %s"], [caller["store_id"], state_id]
            if query.get("cursor"):
                at, order_id = _decode(query["cursor"], 2)
                where.append("(created_at, order_id) < (%s, %s)")
                params += [at, order_id]
            rows = conn.execute(
                f"SELECT {', '.join(ORDER_COLUMNS)} "
                f"FROM {self.schema}.orders WHERE {' AND '.join(where)} "
                "ORDER BY created_at DESC, order_id DESC LIMIT %s", params + [limit + 1]).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        items = [order_view(r) for r in rows]
        cursor = _encode([iso(rows[-1][3]), rows[-1][0]]) if more else None
        return {"items": items, "next_cursor": cursor}

    # --- what the store may do with a customer ------------------------------------

    def payment_options(self, caller: dict, customer_id: str) -> dict:
        customer_id = _customer_id(customer_id)
        if caller["kind"] == "customer" and caller["id"] != customer_id:
            raise NotFound("customer_not_found", f"no customer {customer_id}")
        with self.store.pool.connection() as conn:
            card = self._view(conn, caller["store_id"], customer_id)
            settings = self._settings(conn, caller["store_id"])
        if card["blocked"]:
            return {"cod_allowed": False, "reason": "customer_blocked"}
        if card["flagged"] and settings["no_cod_for_flagged"]:
            return {"cod_allowed": False, "reason": "flagged_non_serious_buyer"}
        return {"cod_allowed": True}

    def request_rating(self, caller: dict, customer_id: str, idempotency=None) -> dict:
        """Ask the customer to rate their delivered, unrated orders (an event the
        notifications service sends on the store's rating channel)."""
        store_id = caller["store_id"]
        with self.store.transaction() as conn:
            replay = self._claim(conn, caller, idempotency)
            if replay is not None:
                return replay
            state = self._load(conn, store_id, customer_id, lock=True)
            order_ids = [r[0] for r in conn.execute(
                f"SELECT order_id FROM {self.schema}.orders WHERE store_id = %s AND customer_id = %s "
                "AND status = 'delivered' AND NOT rated ORDER BY created_at DESC, order_id LIMIT %s",
                (store_id, state.id, MAX_RATING_ORDERS))]
            if not order_ids:
                raise Conflict("no_unrated_orders",
                               "the customer has no delivered orders waiting for a rating: every order is rated "
                               "or none was delivered yet")
            settings = self._settings(conn, store_id)
            channel = settings["rating_channel"]
            to, sender = self._recipient(state, channel, settings)
            base = settings["storefront_url"] or f"{STOREFRONT_BASE_URL}/{store_id}"
            request = {"request_id": str(uuid.uuid4()), "customer_id": state.id, "customer_name": state.name,
                       "channel": channel, "to": to, "order_ids": order_ids,
                       "link": f"{base}/ratings?orders={','.join(order_ids)}"}
            if sender:
                request["sender_name"] = sender
            self._write(conn, state, state.id, [NewEvent("customer.rating_requested", request, actor_of(caller),
                                                         store_id)])
            result = {"status": 202, "request": {"id": request.pop("request_id"), **request}}
            return self._record(conn, caller, idempotency, result)

    def send_message(self, caller: dict, customer_id: str, fields: dict, idempotency=None) -> dict:
        store_id = caller["store_id"]
        message = message_fields(fields.get("channel"), fields.get("body"), fields.get("subject"))
        with self.store.transaction() as conn:
            replay = self._claim(conn, caller, idempotency)
            if replay is not None:
                return replay
            state = self._load(conn, store_id, customer_id, lock=True)
            settings = self._settings(conn, store_id)
            to, sender = self._recipient(state, message["channel"], settings)
            data = {"message_id": str(uuid.uuid4()), "customer_id": state.id, "customer_name": state.name,
                    "to": to, "sender_name": sender, **message}
            self._write(conn, state, state.id, [NewEvent("customer.message_requested", data, actor_of(caller),
                                                         store_id)])
            result = {"status": 202, "message": {"id": data.pop("message_id"), **data}}
            return self._record(conn, caller, idempotency, result)

    @staticmethod
    def _recipient(state: CustomerState, channel: str, settings: dict) -> tuple[str, str | None]:
        if channel == "sms":
            if not settings["sms_sender_name"]:
                raise Conflict("sms_sender_missing",
                               "the store has no SMS sender name: set sms_sender_name in /v1/settings/customers",
                               {"sms_sender_name": ["required to send SMS"]})
            return state.mobile, settings["sms_sender_name"]
        if not state.email:
            raise Conflict("no_email", "the customer has no email address", {"email": ["the card has none"]})
        return state.email, None

    # --- settings -----------------------------------------------------------------

    def _settings(self, conn, store_id: str) -> dict:
        row = conn.execute(f"SELECT settings FROM {self.schema}.settings WHERE store_id = %s", (store_id,)).fetchone()
        return {**DEFAULTS, **(row[0] if row else {})}

    def settings(self, caller: dict) -> dict:
        with self.store.pool.connection() as conn:
            return self._settings(conn, caller["store_id"])

    def update_settings(self, caller: dict, fields: dict) -> dict:
        changes = clean_settings(fields)
        store_id = caller["store_id"]
        stream_id = f"customer-settings:{store_id}"
        with self.store.transaction() as conn:
            _lock(conn, stream_id)
            current = self._settings(conn, store_id)
            changes = {k: v for k, v in changes.items() if current[k] != v}
            if changes:
                version = self.store.stream_version(stream_id, conn)
                stored = self.store.append(stream_id, version, [NewEvent(
                    "customer_settings.updated", {"changes": changes}, actor_of(caller), store_id)], conn=conn)
                settings = {**current, **changes}
                conn.execute(
                    f"INSERT INTO {self.schema}.settings (store_id, settings, version) VALUES (%s, %s, %s) "
                    "ON CONFLICT (store_id) DO UPDATE SET settings = EXCLUDED.settings, version = EXCLUDED.version",
                    (store_id, Jsonb(settings), stored[0].version))
                current = settings
            return current

    # --- fraud flags (platform-wide) ----------------------------------------------

    def observe(self, conn, event: Envelope) -> None:
        """The fraud watch: record the evidence an event carries, then see
        whether the shopper's fresh evidence now meets a rule."""
        data = dict(event.data)
        if event.type == "customer.unblocked":
            # A store changing its mind withdraws its evidence, unless a flag already used it.
            conn.execute(f"DELETE FROM {self.schema}.fraud_evidence WHERE kind = 'blocked_non_serious' "
                         "AND store_id = %s AND ref = %s AND flag_id IS NULL", (event.store_id, data["customer_id"]))
            return
        found = fraud.classify(event.type, data)
        if found is None or not event.store_id:
            return
        kind, ref = found
        try:
            customer_id = str(uuid.UUID(str(data.get("customer_id"))))
        except ValueError:
            return  # a ticket of a customer this service never knew: no mobile to follow
        mobile = self.projection.mobile_of(conn, event.store_id, customer_id)
        if mobile is None:
            return
        conn.execute(f"INSERT INTO {self.schema}.fraud_evidence (kind, store_id, ref, customer_id, mobile, at) "
                     "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                     (kind, event.store_id, ref, customer_id, mobile, event.occurred_at))
        self.evaluate(conn, mobile)

    def evaluate(self, conn, mobile: str) -> list[str]:
        """Raise a flag for every rule the mobile's fresh evidence meets; flag ids."""
        _lock(conn, f"mobile:{mobile}")
        fresh = [fraud.Evidence(kind=r[0], store_id=r[1], ref=r[2], customer_id=str(r[3]), at=r[4])
                 for r in conn.execute(f"SELECT kind, store_id, ref, customer_id, at FROM {self.schema}.fraud_evidence "
                                       "WHERE mobile = %s AND flag_id IS NULL ORDER BY at", (mobile,))]
        active = {r[0] for r in conn.execute(f"SELECT rule FROM {self.schema}.flags WHERE mobile = %s "
                                             "AND status = 'active'", (mobile,))}
        raised = []
        for decision in fraud.evaluate(self.rules, fresh, active, self.clock()):
            raised.append(self._raise(conn, mobile, decision))
        return raised

    def _raise(self, conn, mobile: str, decision: fraud.Decision) -> str:
        flag_id = str(uuid.uuid4())
        rule = decision.rule
        evidence = fraud.full_evidence(decision)
        public = fraud.store_safe_reason(decision)
        stored = self.store.append(flag_id, 0, [NewEvent("shopper.flagged", {
            "flag_id": flag_id, "mobile": mobile, "code": fraud.FLAG_CODE, "rule": rule.code,
            "threshold": rule.threshold, "evidence": evidence}, SYSTEM, None)], conn=conn)
        conn.execute(f"INSERT INTO {self.schema}.flags (id, mobile, code, rule, threshold, status, evidence, "
                     "public_reason, raised_at, version) VALUES (%s, %s, %s, %s, %s, 'active', %s, %s, %s, 1)",
                     (flag_id, mobile, fraud.FLAG_CODE, rule.code, rule.threshold, Jsonb(evidence), Jsonb(public),
                      stored[0].occurred_at))
        for item in decision.evidence:
            conn.execute(f"UPDATE {self.schema}.fraud_evidence SET flag_id = %s "
                         "WHERE kind = %s AND store_id = %s AND ref = %s", (flag_id, item.kind, item.store_id, item.ref))
        self._sync_cards(conn, mobile)
        log.warning("shopper %s flagged by rule %s (flag %s)", _masked(mobile), rule.code, flag_id)
        return flag_id

    def _sync_cards(self, conn, mobile: str) -> None:
        for customer_id in self.projection.cards_with_mobile(conn, mobile):
            _lock(conn, f"customer:{customer_id}")
            state = fold(self.store.load(customer_id, conn=conn))
            self._sync_flags(conn, state)

    def list_flags(self, query: dict) -> dict:
        limit = _page_limit(query)
        status = query.get("status") or "active"
        if status not in ("active", "cleared", "all"):
            raise InvalidQuery.field("status", "active, cleared or all")
        where, params = [], []
        if status != "all":
            where.append("status = %s")
            params.append(status)
        if query.get("mobile"):
            try:
                mobile = normalise_mobile(query["mobile"], "SA")
            except InvalidCommand as exc:
                raise InvalidQuery("invalid_request", exc.detail, exc.errors) from None
            where.append("mobile = %s")
            params.append(mobile)
        if query.get("cursor"):
            at, flag_id = _decode(query["cursor"], 2)
            where.append("(raised_at, id) < (%s, %s)")
            params += [at, flag_id]
        with self.store.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT id, mobile, code, rule, threshold, status, evidence, raised_at, cleared_at, cleared_by, note "
                f"FROM {self.schema}.flags {'WHERE ' + ' AND '.join(where) if where else ''} "
                "ORDER BY raised_at DESC, id DESC LIMIT %s", params + [limit + 1]).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        return {"items": [_flag_view(r) for r in rows],
                "next_cursor": _encode([iso(rows[-1][7]), str(rows[-1][0])]) if more else None}

    def clear_flag(self, caller: dict, flag_id: str, fields: dict) -> dict:
        """Platform staff reviewed the flag: it stops showing; its evidence stays spent."""
        try:
            flag_id = str(uuid.UUID(flag_id))
        except (ValueError, TypeError, AttributeError):
            raise NotFound("flag_not_found", f"no flag {flag_id}") from None
        note = fields.get("note")
        if note is not None and (not isinstance(note, str) or len(note) > 1000):
            raise InvalidCommand.field("note", "text of at most 1000 characters")
        with self.store.transaction() as conn:
            row = conn.execute(f"SELECT mobile, status, version FROM {self.schema}.flags WHERE id = %s FOR UPDATE",
                               (flag_id,)).fetchone()
            if row is None:
                raise NotFound("flag_not_found", f"no flag {flag_id}")
            mobile, status, version = row
            if status != "active":
                raise Conflict("flag_already_cleared", f"flag {flag_id} was already cleared")
            _lock(conn, f"mobile:{mobile}")
            stored = self.store.append(flag_id, version, [NewEvent(
                "shopper.flag_cleared", {"flag_id": flag_id, "mobile": mobile, "note": note},
                PLATFORM_ACTOR, None)], conn=conn)
            conn.execute(f"UPDATE {self.schema}.flags SET status = 'cleared', cleared_at = %s, cleared_by = %s, "
                         "note = %s, version = %s WHERE id = %s",
                         (stored[0].occurred_at, caller.get("id") or "platform", note, stored[0].version, flag_id))
            self._sync_cards(conn, mobile)
            row = conn.execute(
                f"SELECT id, mobile, code, rule, threshold, status, evidence, raised_at, cleared_at, cleared_by, note "
                f"FROM {self.schema}.flags WHERE id = %s", (flag_id,)).fetchone()
        return _flag_view(row)

    # --- events -------------------------------------------------------------------

    def events(self, store_id: str | None, after: int, limit: int) -> dict:
        batch = self.store.read_all(after, limit, store_id=store_id)
        return {"items": [to_cloudevent(e, "customers") for e in batch],
                "next_after": str(batch[-1].position) if batch else str(after)}


def _flag_view(row) -> dict:
    fid, mobile, code, rule, threshold, status, evidence, raised_at, cleared_at, cleared_by, note = row
    return {"id": str(fid), "mobile": mobile, "code": code, "rule": rule, "threshold": threshold, "status": status,
            "evidence": evidence, "raised_at": iso(raised_at), "cleared_at": iso(cleared_at) if cleared_at else None,
            "cleared_by": cleared_by, "note": note}


def _masked(mobile: str) -> str:
    """Logs name a shopper without their full number."""
    return mobile[:4] + "*" * max(0, len(mobile) - 7) + mobile[-3:]
