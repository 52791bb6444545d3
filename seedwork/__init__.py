"""seedwork: the plumbing every Seed service shares.

One small library, not copied per service:

- ``config``     settings from environment variables, with working defaults
- ``db``         psycopg 3 connection pools that cooperate with eventlet
- ``envelope``   the immutable event envelope, CloudEvents mapping, upcasting
- ``store``      the append-only event store (streams, snapshots, global order)
- ``migrations`` versioned, ordered, idempotent SQL migrations
- ``bus``        RabbitMQ topology: exchanges, consumer queues, retries, dead letters
- ``relay``      the outbox relay that publishes committed events, one active per service
- ``consumer``   exactly-once effects from at-least-once delivery
- ``errors``     typed errors (``ConcurrencyConflict``) callers map to HTTP 409/412
- ``cards``      payment card numbers in free text: found (Luhn) and masked
- ``feed``       the event feed: a service's page of its events, every service's merged under one cursor
- ``nameko_ext`` thin Nameko extensions over the above (``EventSourcing``, ``bus_handler``)
- ``launch``     ``nameko run`` for one service, quiet and eventlet-safe
- ``cli``        ops commands: ``python -m seedwork migrate|relay|dlq``
"""
