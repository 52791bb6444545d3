"""The store's teams (departments): each one a stream (``team:{id}``) of
``team.*`` events, and the ``teams`` and ``team_members`` tables, written in
the same transaction from the fold of the stream (``domain.teams.evolve``),
so ``rebuild`` gives the same rows. The lookups at the top are what other
parts of the service ask of a team (assigning a ticket, routing, topics)."""
from __future__ import annotations

import contextlib
import uuid
from datetime import datetime
from typing import Any, Callable, Iterable, Iterator

import psycopg

from seedwork.caller import Caller
from seedwork.envelope import Envelope, NewEvent
from seedwork.errors import Conflict, InvalidCommand, NotFound
from seedwork.idempotency import IdempotencyKeys
from seedwork.instants import iso
from seedwork.store import EventStore, expect_version

from .domain import plan_limits
from .domain import teams as rules

COLUMNS = ("id", "store_id", "name", "description", "assignment_mode", "version", "created_at", "updated_at")
ID_MAX = 64  # the ids this service gives are UUIDs; anything longer is no team


def stream_of(team_id: str) -> str:
    return f"team:{team_id}"


def count_lock(store_id: str) -> str:
    """Held while a team is created: the plan's limit is counted under it."""
    return f"teams-of:{store_id}"


def view(team: dict) -> dict[str, Any]:
    return {"id": team["id"], "name": team["name"], "description": team["description"],
            "members": list(team["members"]), "assignment": dict(team["assignment"]), "version": team["version"],
            "created_at": iso(team["created_at"]), "updated_at": iso(team["updated_at"])}


class Teams:
    def __init__(self, store: EventStore, keys: IdempotencyKeys, clock: Callable[[], datetime]):
        self.store, self.keys, self.clock = store, keys, clock
        self.schema = s = store.schema
        self._select = f"SELECT {', '.join(COLUMNS)} FROM {s}.teams WHERE store_id = %s"
        self._exists = f"SELECT 1 FROM {s}.teams WHERE store_id = %s AND id = %s"
        self._members = (f"SELECT team_id, agent_id, since FROM {s}.team_members WHERE store_id = %s "
                         "AND team_id = ANY(%s) ORDER BY since, agent_id")
        self._of_agents = (f"SELECT agent_id, team_id FROM {s}.team_members WHERE store_id = %s "
                           "AND agent_id = ANY(%s) ORDER BY team_id")
        self._count = f"SELECT count(*) FROM {s}.teams WHERE store_id = %s"
        self._modes = f"SELECT id, assignment_mode FROM {s}.teams WHERE store_id = %s"
        self._insert = (f"INSERT INTO {s}.teams ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})")
        self._update = (f"UPDATE {s}.teams SET name = %s, description = %s, assignment_mode = %s, version = %s, "
                        "updated_at = %s WHERE id = %s")
        self._add = f"INSERT INTO {s}.team_members (team_id, store_id, agent_id, since) VALUES (%s, %s, %s, %s)"
        self._remove = f"DELETE FROM {s}.team_members WHERE team_id = %s AND agent_id = %s"
        self._delete = f"DELETE FROM {s}.teams WHERE id = %s"
        self._open_ticket = (f"SELECT 1 FROM {s}.ticket_list WHERE store_id = %s AND team = %s "
                             "AND status <> 'closed' LIMIT 1")
        self._topic = f"SELECT 1 FROM {s}.topics WHERE store_id = %s AND team_id = %s LIMIT 1"
        self._rule = f"SELECT name FROM {s}.rules WHERE store_id = %s AND team_id = %s ORDER BY position LIMIT 1"

    # --- lookups for the rest of the service -----------------------------------------------

    def exists(self, conn: psycopg.Connection, store_id: str, team_id: Any, *, lock: bool = False) -> bool:
        """Whether the store has this team. With ``lock`` (a command that is about
        to put a ticket or a topic on it), the team cannot be deleted before
        that transaction ends: deleting waits for it, then sees what it wrote."""
        if not _plausible(team_id):
            return False
        found = conn.execute(self._exists + (" FOR KEY SHARE" if lock else ""), (store_id, team_id)).fetchone()
        return found is not None

    def team_ids_of(self, conn: psycopg.Connection, store_id: str, agent_id: str) -> frozenset[str]:
        """The teams the agent is a member of."""
        return frozenset(self.teams_of_agents(conn, store_id, [agent_id]).get(agent_id, ()))

    def members(self, conn: psycopg.Connection, store_id: str, team_id: str) -> list[str]:
        """The team's members in the order they joined ([] for no such team)."""
        if not _plausible(team_id):
            return []
        return [agent for _, agent, _ in conn.execute(self._members, (store_id, [team_id])).fetchall()]

    def mode(self, conn: psycopg.Connection, store_id: str, team_id: str) -> str:
        """How the team's tickets are assigned: ``manual``, ``round_robin`` or
        ``least_loaded``; ``manual`` for a team the store does not have."""
        team = self.load(conn, store_id, team_id)
        return team["assignment"]["mode"] if team else "manual"

    def members_of(self, conn: psycopg.Connection, store_id: str, team_ids: Iterable[str]) -> dict[str, list[str]]:
        """``{team_id: members in the order they joined}`` for each of the store's teams named (routing)."""
        found: dict[str, list[str]] = {}
        for team_id, agent, _ in conn.execute(self._members, (store_id, list(team_ids))).fetchall():
            found.setdefault(team_id, []).append(agent)
        return found

    def modes(self, conn: psycopg.Connection, store_id: str, team_ids: Iterable[str] | None = None) -> dict[str, str]:
        """``{team_id: assignment mode}`` of the store's teams (only those named, with ``team_ids``)."""
        if team_ids is None:
            rows = conn.execute(self._modes, (store_id,)).fetchall()
        else:
            rows = conn.execute(self._modes + " AND id = ANY(%s)",
                                (store_id, [t for t in team_ids if _plausible(t)])).fetchall()
        return dict(rows)

    def teams_of_agents(self, conn: psycopg.Connection, store_id: str,
                        agent_ids: Iterable[str]) -> dict[str, list[str]]:
        """``{agent_id: [team ids]}`` for the agents in at least one team."""
        found: dict[str, list[str]] = {}
        for agent_id, team_id in conn.execute(self._of_agents, (store_id, list(agent_ids))).fetchall():
            found.setdefault(agent_id, []).append(team_id)
        return found

    # --- reads -----------------------------------------------------------------------

    def load(self, conn: psycopg.Connection, store_id: str, team_id: Any, *, lock: bool = False) -> dict | None:
        """The team as ``domain.teams.fold`` leaves it, from the tables (None: no such team).
        With ``lock``, its row is held for deleting."""
        if not _plausible(team_id):
            return None
        row = conn.execute(self._select + " AND id = %s" + (" FOR UPDATE" if lock else ""),
                           (store_id, team_id)).fetchone()
        return self._with_members(conn, store_id, [dict(zip(COLUMNS, row))])[0] if row else None

    def list(self, caller: Caller) -> dict:
        with self.store.pool.connection() as conn:
            rows = conn.execute(self._select + " ORDER BY lower(name), id", (caller.store_id,)).fetchall()
            teams = self._with_members(conn, caller.store_id, [dict(zip(COLUMNS, r)) for r in rows])
        return {"items": [view(t) for t in teams]}

    def get(self, caller: Caller, team_id: str) -> dict:
        with self.store.pool.connection() as conn:
            return view(self._found(conn, caller.store_id, team_id))

    def _found(self, conn: psycopg.Connection, store_id: str, team_id: str, lock: bool = False) -> dict:
        team = self.load(conn, store_id, team_id, lock=lock)
        if team is None:
            raise NotFound("team_not_found", f"no team {team_id}")
        return team

    def _with_members(self, conn: psycopg.Connection, store_id: str, rows: list[dict]) -> list[dict]:
        members: dict[str, list[tuple[str, int]]] = {}
        for team_id, agent_id, since in conn.execute(self._members, (store_id, [r["id"] for r in rows])).fetchall():
            members.setdefault(team_id, []).append((agent_id, since))
        return [{"id": r["id"], "store_id": r["store_id"], "name": r["name"], "description": r["description"],
                 "assignment": {"mode": r["assignment_mode"]},
                 "members": [agent for agent, _ in members.get(r["id"], ())],
                 "joined": dict(members.get(r["id"], ())), "version": r["version"],
                 "created_at": r["created_at"], "updated_at": r["updated_at"]} for r in rows]

    # --- writes ----------------------------------------------------------------------

    def create(self, caller: Caller, fields: dict, idempotency=None, limits: dict | None = None) -> dict:
        """A new team; ``limits`` are the store's plan limits (the gateway's): its
        ``teams`` are counted under a per-store lock, so two creates cannot both
        take the last place."""
        with self.store.transaction() as conn:
            self.store.lock_stream(conn, count_lock(caller.store_id))
            return self.keys.run(conn, caller, idempotency, lambda: {
                "team": self._create(conn, caller, fields, limits), "created": True})

    def _create(self, conn: psycopg.Connection, caller: Caller, fields: dict, limits: dict | None) -> dict:
        clean = rules.clean_team(fields)
        plan_limits.check_room(limits, "teams", conn.execute(self._count, (caller.store_id,)).fetchone()[0])
        team_id = str(uuid.uuid4())
        return view(self._record(conn, caller, team_id, None, [("team.created", clean)]))

    def update(self, caller: Caller, team_id: str, fields: dict, expected_version: int | None = None) -> dict:
        with self.store.transaction() as conn:
            team = self._locked(conn, caller, team_id, expected_version)
            clean = rules.clean_team(fields, partial=True)
            changed = rules.changes(team, clean)
            if not changed:
                return view(team)
            data = {"changes": changed, **{key: team[key] for key in rules.FIELDS}, **changed}
            return view(self._record(conn, caller, team_id, team, [("team.updated", data)]))

    def delete(self, caller: Caller, team_id: str) -> None:
        """Refused while a ticket not yet closed is on the team, or a topic or a rule names it."""
        with self.store.transaction() as conn:
            team = self._locked(conn, caller, team_id, None, lock_row=True)
            # Read after the row lock: a ticket assigned to the team by a transaction
            # that held it (``exists(lock=True)``) has committed, and is seen here.
            if conn.execute(self._open_ticket, (caller.store_id, team_id)).fetchone():
                raise Conflict("team_has_tickets", f"tickets not yet closed are on team {team['name']!r}: "
                                                   "move them to another team first")
            if conn.execute(self._topic, (caller.store_id, team_id)).fetchone():
                raise Conflict("team_has_topics", f"a contact topic is handled by team {team['name']!r}: "
                                                  "give it another team first")
            rule = conn.execute(self._rule, (caller.store_id, team_id)).fetchone()
            if rule:
                raise Conflict("team_has_rules", f"the rule {rule[0]!r} puts tickets on team {team['name']!r}: "
                                                 "change or delete it first")
            self._record(conn, caller, team_id, team, [("team.deleted", {"name": team["name"]})])

    def add_member(self, caller: Caller, team_id: str, agent_id: Any) -> dict:
        """The agent joins the team (a member already: nothing is written).
        That the agent is staff of the store is the gateway's check."""
        agent_id = rules.member(agent_id)
        with self.store.transaction() as conn:
            team = self._locked(conn, caller, team_id, None)
            if agent_id in team["members"]:
                return view(team)
            if len(team["members"]) >= rules.MAX_MEMBERS:
                raise InvalidCommand.field("agent_id", f"a team has at most {rules.MAX_MEMBERS} members")
            return view(self._record(conn, caller, team_id, team, [("team.member_added", {"agent_id": agent_id})]))

    def remove_member(self, caller: Caller, team_id: str, agent_id: Any) -> dict:
        """The agent leaves the team (not a member: nothing is written)."""
        agent_id = rules.member(agent_id)
        with self.store.transaction() as conn:
            team = self._locked(conn, caller, team_id, None)
            if agent_id not in team["members"]:
                return view(team)
            return view(self._record(conn, caller, team_id, team, [("team.member_removed", {"agent_id": agent_id})]))

    def _locked(self, conn: psycopg.Connection, caller: Caller, team_id: str, expected_version: int | None,
                lock_row: bool = False) -> dict:
        self.store.lock_stream(conn, stream_of(team_id))
        team = self._found(conn, caller.store_id, team_id, lock=lock_row)
        expect_version(f"team {team_id}", expected_version, team["version"])
        return team

    def _record(self, conn: psycopg.Connection, caller: Caller, team_id: str, team: dict | None,
                changes: list[tuple[str, dict]]) -> dict | None:
        """Append the events, fold them onto the team and write its rows."""
        now = self.clock()
        stored = self.store.append(stream_of(team_id), team["version"] if team else 0, [
            NewEvent(event_type, {"team_id": team_id, **data}, actor=caller.actor, store_id=caller.store_id,
                     occurred_at=now) for event_type, data in changes], conn=conn)
        after = rules.fold(stored, team)
        self.write(conn, team, after, stored)
        return after

    # --- the tables --------------------------------------------------------------------

    def write(self, conn: psycopg.Connection, before: dict | None, after: dict | None,
              events: list[Envelope]) -> None:
        """Make the rows say ``after`` (None: gone) where they said ``before``."""
        if after is None:
            if before is not None:
                conn.execute(self._delete, (before["id"],))
            return
        row = (after["id"], after["store_id"], after["name"], after["description"], after["assignment"]["mode"],
               after["version"], after["created_at"], after["updated_at"])
        with _name_unique(after["name"]):
            if before is None:
                conn.execute(self._insert, row)
            else:
                conn.execute(self._update, (*row[2:6], after["updated_at"], after["id"]))
        joined = _joined_versions(before, events)
        old = set(before["members"]) if before else set()
        for agent_id in old - set(after["members"]):
            conn.execute(self._remove, (after["id"], agent_id))
        for agent_id in after["members"]:
            if agent_id not in old:
                conn.execute(self._add, (after["id"], after["store_id"], agent_id, joined.get(agent_id, 0)))

    def rebuild(self, conn: psycopg.Connection, streams: Iterable[list[Envelope]]) -> int:
        """Write the (emptied) tables from the ``team:`` streams, each folded whole,
        so names that moved between teams never collide on the way."""
        count = 0
        for events in streams:
            team = rules.fold(events)
            if team is not None:
                self.write(conn, None, team, events)
                count += 1
        return count


def _plausible(team_id: Any) -> bool:
    return isinstance(team_id, str) and 0 < len(team_id) <= ID_MAX


def _joined_versions(before: dict | None, events: list[Envelope]) -> dict[str, int]:
    """The version each member joined at: kept from ``before``, and from the events' ``team.member_added``."""
    joined = dict(before["joined"]) if before else {}
    for event in events:
        if event.type == "team.member_added":
            joined[event.data["agent_id"]] = event.version
    return joined


@contextlib.contextmanager
def _name_unique(name: str) -> Iterator[None]:
    """Turns the (store, lower(name)) unique key into a 409 naming the field."""
    try:
        yield
    except psycopg.errors.UniqueViolation:
        raise Conflict("team_name_taken", f"a team is already called {name!r}",
                       {"name": ["already used by another team of this store"]}) from None
