"""Ops commands of the reports service: ``python -m services.reports rebuild-projections``."""
import argparse
import logging
import sys
from pathlib import Path

from seedwork import config, db, migrations
from seedwork.store import EventStore

from .application import build
from .config import ReportsConfig


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.reports")
    parser.add_argument("command", choices=["rebuild-projections"])
    parser.add_argument("--store", help="only this store's reports")
    parser.add_argument("--restate", action="store_true",
                        help="with --store: the tickets heard so far count by the store's SLA policy now (its "
                             "business hours changed and its history should follow)")
    args = parser.parse_args(argv)
    if args.restate and not args.store:
        parser.error("--restate needs --store")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = config.load("reports")
    with db.connect(settings.database_url, autocommit=True) as conn:
        migrations.migrate(conn, settings.schema, [("reports", Path(__file__).with_name("migrations"))])
    pool = db.make_pool(settings.database_url, max_size=2, name="reports-rebuild")
    try:
        count = build(EventStore(pool, settings.schema), ReportsConfig.from_env()).rebuild(args.store, args.restate)
    finally:
        pool.close()
    print(f"reports: measured {count} tickets again from the events heard (schema {settings.schema}), "
          "each by the SLA policy it counts by")
    return 0


if __name__ == "__main__":
    sys.exit(main())
