"""What the notifications service knows about people, stores, teams and
tickets: small tables fed by other services' events, so a delivery finds its
address without calling anyone. Events may arrive twice or out of order; each
write says which event version it carries and never moves a row back."""
from __future__ import annotations

from typing import Any

import psycopg

from seedwork.config import checked_name

REPLICA_TYPES = frozenset({
    "customer.created", "customer.updated", "agent.created", "store.created", "customer_settings.updated",
    "ticket.opened", "ticket.assigned", "ticket.unassigned",
    "team.created", "team.updated", "team.member_added", "team.member_removed", "team.deleted",
})


class Replicas:
    def __init__(self, schema: str):
        self.s = checked_name(schema, "schema")

    def apply(self, conn: psycopg.Connection, event: Any) -> None:
        handler = getattr(self, "_" + event.type.replace(".", "_"), None)
        if handler is not None:
            handler(conn, event, event.data)

    # --- customers ---------------------------------------------------------------

    def _customer_created(self, conn, e, d) -> None:
        # An update that overtook its creation keeps its values: fill only the gaps.
        conn.execute(
            f"INSERT INTO {self.s}.contacts (store_id, customer_id, name, email, mobile, version) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (store_id, customer_id) DO UPDATE SET "
            "name = coalesce(contacts.name, EXCLUDED.name), email = coalesce(contacts.email, EXCLUDED.email), "
            "mobile = coalesce(contacts.mobile, EXCLUDED.mobile)",
            (e.store_id, d["customer_id"], d.get("name"), d.get("email"), d.get("mobile"), e.version))

    def _customer_updated(self, conn, e, d) -> None:
        changes = {k: v for k, v in d["changes"].items() if k in ("name", "email", "mobile")}
        if not changes:
            return
        columns = list(changes)
        conn.execute(
            f"INSERT INTO {self.s}.contacts (store_id, customer_id, {', '.join(columns)}, version) "
            f"VALUES (%s, %s, {', '.join(['%s'] * len(columns))}, %s) ON CONFLICT (store_id, customer_id) "
            f"DO UPDATE SET {', '.join(f'{c} = EXCLUDED.{c}' for c in columns)}, version = EXCLUDED.version "
            "WHERE contacts.version < EXCLUDED.version",
            (e.store_id, d["customer_id"], *changes.values(), e.version))

    def _customer_settings_updated(self, conn, e, d) -> None:
        if "sms_sender_name" in d["changes"]:
            conn.execute(
                f"INSERT INTO {self.s}.store_settings (store_id, sms_sender_name) VALUES (%s, %s) "
                "ON CONFLICT (store_id) DO UPDATE SET sms_sender_name = EXCLUDED.sms_sender_name",
                (e.store_id, d["changes"]["sms_sender_name"]))

    # --- stores and staff ----------------------------------------------------------

    def _store_created(self, conn, e, d) -> None:
        conn.execute(f"INSERT INTO {self.s}.stores (store_id, name, owner_email) VALUES (%s, %s, %s) "
                     "ON CONFLICT (store_id) DO NOTHING", (d["store_id"], d.get("name"), d.get("owner_email")))
        if d.get("owner_id"):
            conn.execute(f"INSERT INTO {self.s}.agents (agent_id, store_id, name, email, role) "
                         "VALUES (%s, %s, %s, %s, 'owner') ON CONFLICT (agent_id) DO NOTHING",
                         (d["owner_id"], d["store_id"], d.get("owner_name"), d.get("owner_email")))

    def _agent_created(self, conn, e, d) -> None:
        conn.execute(f"INSERT INTO {self.s}.agents (agent_id, store_id, name, email, role) "
                     "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (agent_id) DO NOTHING",
                     (d["agent_id"], e.store_id, d.get("name"), d.get("email"), d.get("role")))

    # --- tickets ---------------------------------------------------------------------

    def _ticket_opened(self, conn, e, d) -> None:
        # The team it opens on (a contact topic's) stands until an assignment says otherwise.
        conn.execute(
            f"INSERT INTO {self.s}.tickets (ticket_id, store_id, number, subject, customer_id, order_id, "
            "handled_by, team) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (ticket_id) DO UPDATE SET "
            "number = EXCLUDED.number, subject = EXCLUDED.subject, customer_id = EXCLUDED.customer_id, "
            "order_id = EXCLUDED.order_id, handled_by = EXCLUDED.handled_by, "
            "team = CASE WHEN tickets.version = 0 THEN EXCLUDED.team ELSE tickets.team END",
            (d["ticket_id"], e.store_id, d["number"], d["subject"], d["customer_id"], d.get("order_id"),
             d.get("handled_by", "store"), d.get("team")))

    def _ticket_assigned(self, conn, e, d) -> None:
        self._assignee(conn, e, d.get("assignee_id"), d.get("team"))

    def _ticket_unassigned(self, conn, e, d) -> None:
        self._assignee(conn, e, None, None)

    def _assignee(self, conn, e, assignee_id, team) -> None:
        # Both events carry the agent and the team after the change: they move together.
        conn.execute(
            f"INSERT INTO {self.s}.tickets (ticket_id, store_id, assignee_id, team, version) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (ticket_id) DO UPDATE SET assignee_id = EXCLUDED.assignee_id, "
            "team = EXCLUDED.team, version = EXCLUDED.version WHERE tickets.version < EXCLUDED.version",
            (e.stream_id, e.store_id, assignee_id, team, e.version))

    def seed_ticket(self, conn, basics: dict) -> None:
        """A ticket as the tickets service knows it now (its opening never
        reached this service): fills the row; newer events still win."""
        conn.execute(
            f"INSERT INTO {self.s}.tickets (ticket_id, store_id, number, subject, customer_id, order_id, "
            "handled_by, assignee_id, team, version) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (ticket_id) DO UPDATE SET number = EXCLUDED.number, subject = EXCLUDED.subject, "
            "customer_id = EXCLUDED.customer_id, order_id = EXCLUDED.order_id, handled_by = EXCLUDED.handled_by, "
            "assignee_id = CASE WHEN tickets.version < EXCLUDED.version THEN EXCLUDED.assignee_id "
            "ELSE tickets.assignee_id END, team = CASE WHEN tickets.version < EXCLUDED.version "
            "THEN EXCLUDED.team ELSE tickets.team END, version = greatest(tickets.version, EXCLUDED.version)",
            (basics["ticket_id"], basics["store_id"], basics["number"], basics["subject"], basics["customer_id"],
             basics["order_id"], basics["handled_by"], basics["assignee_id"], basics.get("team"),
             basics["version"]))

    # --- teams -----------------------------------------------------------------------
    # One team stream's events arrive in order, but a retried one (its first
    # try failed) can come after a later one: each row keeps the version of
    # the event that set it, and only a newer event changes it.

    def _team_created(self, conn, e, d) -> None:
        conn.execute(
            f"INSERT INTO {self.s}.teams (team_id, store_id, name, version) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (team_id) DO UPDATE SET name = EXCLUDED.name, version = EXCLUDED.version "
            "WHERE teams.version < EXCLUDED.version", (d["team_id"], e.store_id, d.get("name"), e.version))

    _team_updated = _team_created  # carries the name as it is after the change

    def _team_deleted(self, conn, e, d) -> None:
        # The end of its stream: whatever comes late, the team stays deleted.
        conn.execute(
            f"INSERT INTO {self.s}.teams (team_id, store_id, name, deleted, version) VALUES (%s, %s, %s, true, %s) "
            "ON CONFLICT (team_id) DO UPDATE SET deleted = true", (d["team_id"], e.store_id, d.get("name"), e.version))

    def _team_member_added(self, conn, e, d) -> None:
        self._membership(conn, e, d, True)

    def _team_member_removed(self, conn, e, d) -> None:
        self._membership(conn, e, d, False)

    def _membership(self, conn, e, d, member: bool) -> None:
        conn.execute(
            f"INSERT INTO {self.s}.team_members (team_id, agent_id, store_id, member, version) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (team_id, agent_id) DO UPDATE SET member = EXCLUDED.member, "
            "version = EXCLUDED.version WHERE team_members.version < EXCLUDED.version",
            (d["team_id"], d["agent_id"], e.store_id, member, e.version))

    # --- reads -----------------------------------------------------------------------

    def ticket(self, conn, ticket_id: str | None) -> dict | None:
        if ticket_id is None:
            return None
        row = conn.execute(f"SELECT ticket_id, store_id, number, subject, customer_id, order_id, handled_by, "
                           f"assignee_id, team FROM {self.s}.tickets WHERE ticket_id = %s", (ticket_id,)).fetchone()
        if row is None or row[2] is None:  # only an assignment heard of so far
            return None if row is None else {"ticket_id": row[0], "store_id": row[1], "number": None,
                                             "customer_id": None, "assignee_id": row[7], "handled_by": row[6],
                                             "team": row[8]}
        keys = ("ticket_id", "store_id", "number", "subject", "customer_id", "order_id", "handled_by", "assignee_id",
                "team")
        return dict(zip(keys, row))

    def team(self, conn, store_id: str, team_id: str | None) -> dict | None:
        """The store's team as its events say now: ``{name, deleted, members}``
        (members sorted), or None if no event of it has been heard."""
        if team_id is None:
            return None
        row = conn.execute(f"SELECT name, deleted FROM {self.s}.teams WHERE team_id = %s AND store_id = %s",
                           (team_id, store_id)).fetchone()
        members = [r[0] for r in conn.execute(
            f"SELECT agent_id FROM {self.s}.team_members WHERE team_id = %s AND store_id = %s AND member "
            "ORDER BY agent_id", (team_id, store_id))]
        if row is None and not members:
            return None
        deleted = bool(row and row[1])
        return {"name": row and row[0], "deleted": deleted, "members": [] if deleted else members}

    def contact(self, conn, store_id: str, customer_id: str) -> dict | None:
        row = conn.execute(f"SELECT name, email, mobile FROM {self.s}.contacts WHERE store_id = %s "
                           "AND customer_id = %s", (store_id, customer_id)).fetchone()
        return None if row is None else {"name": row[0], "email": row[1], "mobile": row[2]}

    def agent(self, conn, store_id: str, agent_id: str) -> dict | None:
        row = conn.execute(f"SELECT name, email, role FROM {self.s}.agents WHERE agent_id = %s AND store_id = %s",
                           (agent_id, store_id)).fetchone()
        return None if row is None else {"name": row[0], "email": row[1], "role": row[2]}
