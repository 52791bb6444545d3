"""Stores, their staff and shoppers' sessions: who may call the API.

Plain Python over the gateway's own schema. Each change is recorded as an
event (``store.created``, ``agent.created``) in the same transaction as the
rows that authentication reads, so other services and analytics learn of new
stores from the bus. Commands answer ``{"<resource>": ..., "created": True}``
(and ``"replayed": True`` for a repeated Idempotency-Key); a token is shown
in the answer and never stored: a replay signs its recorded id again.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import psycopg

from seedwork import feed
from seedwork.caller import PLATFORM, Caller
from seedwork.envelope import NewEvent
from seedwork.errors import Conflict, Forbidden, InvalidCommand, NotFound, Unauthenticated
from seedwork.idempotency import IdempotencyKeys
from seedwork.instants import iso
from seedwork.store import EventStore

from . import plans
from .auth import Secrets, bearer, new_token_id

# Who may create which staff role.
MAY_CREATE = {"owner": ("admin", "agent"), "admin": ("agent",)}

class Identity:
    def __init__(self, store: EventStore, secrets: Secrets, session_ttl: float):
        self.store = store
        self.secrets = secrets
        self.session_ttl = timedelta(seconds=session_ttl)
        self.keys = IdempotencyKeys(store.schema)
        self.plans = plans.StorePlans(store)  # the limits the platform sets on each store
        s = store.schema
        self._staff_count = f"SELECT count(*) FROM {s}.agents WHERE store_id = %s"  # the owner takes a seat too
        self._principal_sql = f"""
            SELECT t.store_id, t.kind, t.principal_id, coalesce(a.role, 'customer')
            FROM {s}.tokens t LEFT JOIN {s}.agents a ON t.kind = 'agent' AND a.agent_id = t.principal_id
            WHERE t.token_id = %s AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())"""

    # --- authentication -------------------------------------------------------

    def health(self) -> None:
        """Raises if the gateway's database does not answer."""
        with self.store.pool.connection() as conn:
            conn.execute("SELECT 1")

    def authenticate(self, authorization: str | None) -> Caller:
        presented = bearer(authorization)
        if presented is None:
            raise Unauthenticated("unauthenticated", "send Authorization: Bearer <token>")
        if self.secrets.is_platform_key(presented):
            return PLATFORM
        token_id = self.secrets.token_id_of(presented)
        row = None
        if token_id is not None:
            with self.store.pool.connection() as conn:
                row = conn.execute(self._principal_sql, (token_id,)).fetchone()
        if row is None:
            raise Unauthenticated("invalid_token", "the token is unknown, expired or revoked")
        store_id, kind, principal_id, role = row
        return Caller(kind, principal_id, store_id, role)

    # --- commands -------------------------------------------------------------

    def create_store(self, caller: Caller, name: str, owner_name: str | None = None,
                     owner_email: str | None = None, idempotency=None) -> dict:
        if not caller.is_platform:
            raise Forbidden("platform_only", "only the platform key creates stores")

        def create(conn) -> dict:
            store_id, owner_id, token_id = str(uuid.uuid4()), str(uuid.uuid4()), new_token_id()
            conn.execute(f"INSERT INTO {self.store.schema}.stores (store_id, name) VALUES (%s, %s)",
                         (store_id, name))
            self._insert_agent(conn, store_id, owner_id, name=owner_name or f"{name} owner",
                               email=owner_email or f"owner@{store_id}.invalid", role="owner")
            self._insert_token(conn, token_id, store_id, "agent", owner_id, None)
            self.store.append(f"store-{store_id}", 0, [NewEvent(
                # The owner's name and email: notifications' default support address.
                "store.created", {"store_id": store_id, "name": name, "owner_id": owner_id,
                                  "owner_name": owner_name, "owner_email": owner_email},
                actor=caller.actor, store_id=store_id)], conn=conn)
            return self._record("store", {"id": store_id, "name": name, "owner_id": owner_id}, "owner_token", token_id)
        return self._run(caller, idempotency, create)

    def create_agent(self, caller: Caller, name: str, email: str, role: str, idempotency=None) -> dict:
        if role not in MAY_CREATE.get(caller.role, ()):
            raise Forbidden("role_not_allowed", f"a {caller.role} may not create a {role}",
                            {"role": [f"a {caller.role} may create: "
                                      f"{', '.join(MAY_CREATE.get(caller.role, ())) or 'nobody'}"]})

        def create(conn) -> dict:
            # The store's row is held until this commits: two creates cannot both take the last seat.
            limits = self.plans.limits_in(conn, caller.store_id, lock=True)
            plans.check_room(limits, "staff_seats", conn.execute(self._staff_count, (caller.store_id,)).fetchone()[0])
            agent_id, token_id = str(uuid.uuid4()), new_token_id()
            try:
                with conn.transaction():
                    self._insert_agent(conn, caller.store_id, agent_id, name, email, role)
            except psycopg.errors.UniqueViolation:
                raise Conflict("email_taken", f"{email} is already a staff member of this store",
                               {"email": ["already used in this store"]}) from None
            self._insert_token(conn, token_id, caller.store_id, "agent", agent_id, None)
            self.store.append(f"agent-{agent_id}", 0, [NewEvent(
                "agent.created", {"agent_id": agent_id, "name": name, "email": email, "role": role},
                actor=caller.actor, store_id=caller.store_id)], conn=conn)
            body = {"id": agent_id, "store_id": caller.store_id, "name": name, "email": email, "role": role}
            return self._record("agent", body, "token", token_id)
        return self._run(caller, idempotency, create)

    def open_customer_session(self, caller: Caller, customer_id: str, idempotency=None) -> dict:
        if not caller.is_staff:
            raise Forbidden("staff_only", "only the store's staff open customer sessions")

        def open_session(conn) -> dict:
            token_id = new_token_id()
            expires_at = datetime.now(timezone.utc) + self.session_ttl
            self._insert_token(conn, token_id, caller.store_id, "customer", customer_id, expires_at)
            body = {"customer_id": customer_id, "store_id": caller.store_id, "expires_at": iso(expires_at)}
            return self._record("session", body, "token", token_id)
        return self._run(caller, idempotency, open_session)

    # --- reads ----------------------------------------------------------------

    def get_store(self, caller: Caller, store_id: str) -> dict:
        """The store, for its own staff or the platform; 404 for anyone else."""
        row = None
        if caller.is_platform or caller.store_id == store_id:
            with self.store.pool.connection() as conn:
                row = conn.execute(f"SELECT store_id, name, created_at FROM {self.store.schema}.stores "
                                   "WHERE store_id = %s", (store_id,)).fetchone()
        if row is None:
            raise NotFound("store_not_found", f"no store {store_id}")
        return {"id": row[0], "name": row[1], "created_at": iso(row[2])}

    def get_agent(self, caller: Caller, agent_id: str) -> dict:
        found = self._agents(caller.store_id, agent_id)
        if not found:
            raise NotFound("agent_not_found", f"no staff member {agent_id} in this store")
        return found[0]

    def list_agents(self, caller: Caller) -> list[dict]:
        return self._agents(caller.store_id)

    def _agents(self, store_id: str, agent_id: str | None = None) -> list[dict]:
        query = (f"SELECT agent_id, name, email, role, created_at FROM {self.store.schema}.agents "
                 "WHERE store_id = %s")
        params: tuple = (store_id,)
        if agent_id is not None:
            query += " AND agent_id = %s"
            params += (agent_id,)
        with self.store.pool.connection() as conn:
            rows = conn.execute(query + " ORDER BY created_at, agent_id", params).fetchall()
        return [{"id": r[0], "store_id": store_id, "name": r[1], "email": r[2], "role": r[3],
                 "created_at": iso(r[4])} for r in rows]

    def events(self, store_id: str | None, after: int, limit: int) -> dict:
        """The gateway's own events (stores, staff, plans) in global order, as CloudEvents."""
        return feed.page(self.store, "gateway", after, limit, store_id)

    def require_agent(self, store_id: str, agent_id: str) -> None:
        """Assignment targets a staff member of the same store."""
        if not self._agents(store_id, agent_id):
            raise InvalidCommand.field("agent_id", "no staff member with this id in this store")

    # --- rows -----------------------------------------------------------------

    def _insert_agent(self, conn, store_id, agent_id, name, email, role) -> None:
        conn.execute(f"INSERT INTO {self.store.schema}.agents (agent_id, store_id, name, email, role) "
                     "VALUES (%s, %s, %s, %s, %s)", (agent_id, store_id, name, email, role))

    def _insert_token(self, conn, token_id, store_id, kind, principal_id, expires_at) -> None:
        conn.execute(f"INSERT INTO {self.store.schema}.tokens (token_id, store_id, kind, principal_id, expires_at) "
                     "VALUES (%s, %s, %s, %s, %s)", (token_id, store_id, kind, principal_id, expires_at))

    # --- idempotency: the record keeps the token's id, never the token -------

    def _run(self, caller: Caller, idempotency, create) -> dict:
        """``create(conn)`` once per Idempotency-Key; it returns what is
        recorded (the token's id, not the token), and the answer carries the
        token signed from it, the first time and on every replay."""
        with self.store.transaction() as conn:
            recorded = self.keys.run(conn, caller, idempotency, lambda: create(conn))
        if "resource" not in recorded:  # recorded before answers named their resource
            kind = "store" if recorded["token_field"] == "owner_token" else (
                "session" if "customer_id" in recorded["body"] else "agent")
            recorded = {**recorded, "resource": kind}
        body = {**recorded["body"], recorded["token_field"]: self.secrets.token_for(recorded["token_id"])}
        return {recorded["resource"]: body, "created": True, **({"replayed": True} if recorded.get("replayed") else {})}

    @staticmethod
    def _record(resource: str, body: dict, token_field: str, token_id: str) -> dict:
        return {"resource": resource, "body": body, "token_field": token_field, "token_id": token_id}
