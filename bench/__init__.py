"""Benchmarks of the seedwork event store and outbox relay, each figure next
to a baseline measured in the same run: raw psycopg, the ``eventsourcing``
library's PostgreSQL recorder, raw pika. The ``http`` section runs the
tickets service and the gateway as processes and times the HTTP API against
a trivial route of the same gateway and a raw psycopg round trip.

Run from the repository root with ``make bench`` (or ``python -m bench``);
``python -m bench --help`` lists the knobs. What is measured and why is
written up in docs/performance.md.
"""
