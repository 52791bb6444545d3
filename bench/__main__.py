"""``python -m bench``: run every benchmark, print the report on stdout.

Progress goes to stderr. Everything the run creates (schemas ``bench_<hex>_*``,
exchanges and queues ``bench_<hex>.*``) is removed at the end, also on failure
or Ctrl-C.
"""
from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import time
from datetime import datetime, timezone

from seedwork import db

from .common import Scratch, Settings, log, machine
from .http_list import DEEP_PAGES
from .ops_sla import live_count
from .report import render

# section name -> module of this package with run(settings, scratch) -> (rows, verdicts, notes)
SECTIONS = {"append": "appends", "load": "loads", "relay": "relaying", "latency": "latency", "scale": "scaling",
            "http": "httpapi", "customers": "customers", "notifications": "notifications", "ops": "agent_ops",
            "reports": "reporting"}


def _terminate(signum, frame):
    raise KeyboardInterrupt


def parse(argv: list[str]) -> tuple[Settings, list[str]]:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=5, help="repetitions; the report shows medians (default 5)")
    p.add_argument("--seconds", type=float, default=1.5, help="length of one timed append run (default 1.5)")
    p.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {','.join(SECTIONS)}")
    p.add_argument("--relay-events", type=int, default=20_000, help="events the relay drains (default 20000)")
    p.add_argument("--latency-events", type=int, default=500, help="events per latency round (default 500)")
    p.add_argument("--http-tickets", type=int, default=None,
                   help="tickets seeded into one store for the http section's list timings (default 100000; "
                        "10000 with --quick)")
    p.add_argument("--customers", type=int, default=None,
                   help="cards loaded into one store for the customers section's search timings (default 1000000; "
                        "100000 with --quick)")
    p.add_argument("--import-rows", type=int, default=None,
                   help="rows of the CSV file the customers section imports through HTTP (default 20000; "
                        "5000 with --quick)")
    p.add_argument("--ops-tickets", type=int, default=None,
                   help="tickets seeded into one store for the ops section's views and queue (default 1000000; "
                        "100000 with --quick)")
    p.add_argument("--ops-sla-tickets", type=int, default=None,
                   help="open tickets in the store whose SLA timer lag the ops section measures (default 100000; "
                        "20000 with --quick)")
    p.add_argument("--reports-tickets", type=int, default=None,
                   help="tickets seeded over a year into one store for the reports section's summary timings "
                        "(default 1000000; 10000 with --quick)")
    p.add_argument("--quick", action="store_true", help="3 rounds, 1s runs (http: 0.6s runs, 10k tickets; "
                   "customers: 100k cards, 5k import rows; ops: 100k + 20k tickets; reports: 10k tickets): a "
                   "smoke test, not figures to quote")
    args = p.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        p.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    settings = Settings(rounds=args.rounds, seconds=args.seconds, relay_events=args.relay_events,
                        latency_events=args.latency_events, quick=args.quick)
    if args.quick:
        settings.rounds, settings.seconds = 3, 1.0
    settings.http_tickets = args.http_tickets or (10_000 if args.quick else 100_000)
    if settings.http_tickets < (DEEP_PAGES + 2) * 25:
        p.error(f"--http-tickets must be at least {(DEEP_PAGES + 2) * 25}")
    settings.customers = args.customers or (100_000 if args.quick else 1_000_000)
    settings.import_rows = args.import_rows or (5_000 if args.quick else 20_000)
    if settings.customers < 10_000:
        p.error("--customers must be at least 10000")
    if settings.import_rows < 500:
        p.error("--import-rows must be at least 500")
    settings.ops_tickets = args.ops_tickets or (100_000 if args.quick else 1_000_000)
    settings.ops_sla_tickets = args.ops_sla_tickets or (20_000 if args.quick else 100_000)
    if settings.ops_tickets < 20_000:
        p.error("--ops-tickets must be at least 20000 (the queue takes thousands of waiting tickets)")
    if settings.ops_sla_tickets < live_count(settings) + 1_000:
        p.error(f"--ops-sla-tickets must be at least {live_count(settings) + 1_000}")
    settings.reports_tickets = args.reports_tickets or (10_000 if args.quick else 1_000_000)
    if settings.reports_tickets < 5_000:
        p.error("--reports-tickets must be at least 5000")
    if settings.rounds < 1:
        p.error("--rounds must be at least 1")
    return settings, only


def main(argv: list[str] | None = None) -> int:
    settings, only = parse(sys.argv[1:] if argv is None else argv)
    # Let `kill` (SIGTERM) unwind like Ctrl-C, so the scratch objects are dropped.
    signal.signal(signal.SIGTERM, _terminate)
    db.ensure_database(settings.database_url)
    started = time.perf_counter()
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    described = machine(settings)
    scratch = Scratch(settings)
    rows, verdicts, notes = [], [], []
    log(f"bench run {settings.run_id}: {', '.join(only)}; {settings.rounds} rounds; scratch prefix {settings.prefix}")
    try:
        for name in only:
            module = importlib.import_module(f"{__package__}.{SECTIONS[name]}")
            r, v, n = module.run(settings, scratch)
            rows += r
            verdicts += v
            notes += n
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        log("cleaning up scratch schemas, exchanges and queues")
        scratch.cleanup()
    elapsed = time.perf_counter() - started
    try:
        notes.append("load average (1/5/15 min) at the end: %.2f %.2f %.2f" % os.getloadavg())
    except OSError:
        pass
    notes.append(f"medians of {settings.rounds} rounds; each round runs ours and its baseline back to back; "
                 "ratios are ratios of the medians; 'rounds' shows the min..max over rounds")
    title = f"Seed benchmarks ({when}, run {settings.run_id}, {elapsed:.0f}s)"
    print(render(title, described, notes, rows, verdicts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
