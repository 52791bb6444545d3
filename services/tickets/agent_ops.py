"""Rebuilding the tables of agent operations (teams and their members, contact
topics, agents' profiles, category rules) from their streams, as ``make rebuild-projections``
does for the ticket list: what the live path writes in each command's
transaction, folded again from the log."""
from __future__ import annotations

import logging

from seedwork.store import EventStore

from .agent_profiles import AgentProfiles
from .rules import Rules
from .teams import Teams
from .topics import Topics

log = logging.getLogger(__name__)

# Emptied in this order (a topic or a rule names a team), written in the reverse.
TABLES = ("rules", "topics", "team_members", "teams", "agent_profiles")
PREFIXES = {"team:": "teams", "topic:": "topics", "agent-profile:": "agent_profiles", "rule:": "rules"}


def rebuild(store: EventStore, teams: Teams, topics: Topics, profiles: AgentProfiles,
            rules: Rules) -> dict[str, int]:
    """Rewrite the tables from the log in one transaction; how many of each were written.

    The table locks wait for running writers and hold new ones back until the
    rebuilt tables commit. The log is read once, in (stream, version) order;
    only these streams are kept in memory (a store has tens of them, not millions).
    """
    s = store.schema
    streams: dict[str, list] = {table: [] for table in PREFIXES.values()}
    with store.transaction() as conn:
        conn.execute(f"LOCK TABLE {', '.join(f'{s}.{t}' for t in TABLES)} IN EXCLUSIVE MODE")
        for table in TABLES:
            conn.execute(f"DELETE FROM {s}.{table}")
        for events in store.iter_streams(conn):
            stream_id = events[0].stream_id
            for prefix, table in PREFIXES.items():
                if stream_id.startswith(prefix):
                    streams[table].append(events)
        counts = {"teams": teams.rebuild(conn, streams["teams"]),
                  "topics": topics.rebuild(conn, streams["topics"]),
                  "agent_profiles": profiles.rebuild(conn, streams["agent_profiles"]),
                  "rules": rules.rebuild(conn, streams["rules"])}
    log.info("rebuilt %s's teams, topics, agent profiles and rules: %s", s, counts)
    return counts
