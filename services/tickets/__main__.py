"""Ops commands of the tickets service: ``python -m services.tickets rebuild-projections``."""
import argparse
import logging
import sys

from seedwork import config, db, migrations
from seedwork.store import EventStore

from . import agent_ops
from .application import build
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.tickets")
    parser.add_argument("command", choices=["rebuild-projections"])
    parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = config.load("tickets")
    with db.connect(settings.database_url, autocommit=True) as conn:
        migrations.migrate(conn, settings.schema, [("tickets", Path(__file__).with_name("migrations"))])
    pool = db.make_pool(settings.database_url, max_size=2, name="tickets-rebuild")
    try:
        store = EventStore(pool, settings.schema)
        parts = build(store)
        count = parts.read_models.rebuild()
        others = agent_ops.rebuild(store, parts.teams, parts.topics, parts.agents, parts.rules)
        marks = parts.read_marks.rebuild()
        with store.transaction() as conn:
            routing_marks = parts.routing.marks.rebuild(conn)
    finally:
        pool.close()
    print(f"tickets: rebuilt the ticket list of schema {settings.schema} from the event log: {count} tickets; "
          f"{others['teams']} teams, {others['topics']} topics, {others['agent_profiles']} agent profiles, "
          f"{others['rules']} rules; {marks} read marks; {routing_marks} routing marks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
