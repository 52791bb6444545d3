"""What every benchmark shares: settings, payloads, scratch schemas, statistics,
threads that run a load for a fixed time, CPU and sockets of processes read from
/proc, and the machine description."""
from __future__ import annotations

import contextlib
import os
import platform
import secrets
import statistics
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from seedwork import db
from seedwork.config import DEFAULT_AMQP_URI, DEFAULT_DATABASE_URL
from seedwork.envelope import Actor, NewEvent
from seedwork.migrations import migrate


def log(message: str) -> None:
    """Progress goes to stderr, so stdout stays the report."""
    print(message, file=sys.stderr, flush=True)


@dataclass
class Settings:
    database_url: str = field(default_factory=lambda: os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)
    amqp_uri: str = field(default_factory=lambda: os.environ.get("AMQP_URI") or DEFAULT_AMQP_URI)
    rounds: int = 5
    seconds: float = 1.5  # length of one timed append run
    writers: tuple[int, ...] = (1, 4, 16)
    relay_events: int = 20_000
    latency_events: int = 500
    http_tickets: int = 100_000  # tickets in the store whose list the http section times
    quick: bool = False
    # One name for everything this run creates: schemas, exchanges, queues.
    run_id: str = field(default_factory=lambda: secrets.token_hex(4))

    @property
    def prefix(self) -> str:
        return f"bench_{self.run_id}"


# --- payloads ----------------------------------------------------------------------

_BODY = "Hi, my order arrived but the blue sweater is the wrong size (M, not L). Can you send an L?"


def payload(n: int) -> dict:
    """A ticket comment, about 300 bytes of JSON once serialised."""
    return {
        "ticket_id": f"T-{n:08d}",
        "comment_id": n,
        "author": {"kind": "customer", "id": f"cus_{n % 9973:06d}", "name": "Alex Martin"},
        "body": _BODY,
        "channel": "email",
        "tags": ["shipping", "size-exchange"],
        "order_ref": f"#{100000 + n % 90000}",
        "internal": False,
    }


CUSTOMER = Actor("customer", "cus_000042")


def raw_append(conn: psycopg.Connection, insert: str, stream: str, version: int, position: int, n: int) -> None:
    """The raw baseline: ``BEGIN; INSERT; COMMIT`` of one event row."""
    conn.execute("BEGIN")
    conn.execute(insert, (
        uuid.uuid4(), "ticket.commented", 1, stream, version, position, "store_0001",
        CUSTOMER.kind, CUSTOMER.id, uuid.uuid4(), None, datetime.now(timezone.utc), Jsonb(payload(n)),
    ))
    conn.execute("COMMIT")


def new_event(n: int) -> NewEvent:
    return NewEvent("ticket.commented", payload(n), actor=CUSTOMER, store_id="store_0001",
                    correlation_id=uuid.uuid4())


# --- scratch schemas ---------------------------------------------------------------


class Scratch:
    """PostgreSQL schemas and RabbitMQ objects made by this run, removed at the end
    even when a benchmark fails."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.schemas: list[str] = []
        self.queues: list[str] = []
        self.exchanges: list[str] = []

    def event_store_schema(self, name: str) -> str:
        """A new schema with the event store's tables, made by the real migrations."""
        schema = f"{self.settings.prefix}_{name}"
        self.schemas.append(schema)
        with db.connect(self.settings.database_url, autocommit=True) as conn:
            migrate(conn, schema)
        return schema

    def plain_schema(self, name: str) -> str:
        schema = f"{self.settings.prefix}_{name}"
        self.schemas.append(schema)
        with db.connect(self.settings.database_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        return schema

    def cleanup(self) -> None:
        failures = []
        with contextlib.suppress(psycopg.Error), db.connect(self.settings.database_url, autocommit=True) as conn:
            for schema in reversed(self.schemas):
                try:
                    conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
                except psycopg.Error as exc:
                    failures.append(f"schema {schema}: {exc}")
        if self.queues or self.exchanges:
            try:
                import pika

                with contextlib.closing(pika.BlockingConnection(pika.URLParameters(self.settings.amqp_uri))) as c:
                    ch = c.channel()
                    for kind, names in (("queue", self.queues), ("exchange", self.exchanges)):
                        for name in dict.fromkeys(names):
                            try:
                                (ch.queue_delete if kind == "queue" else ch.exchange_delete)(name)
                            except pika.exceptions.ChannelClosed as exc:
                                failures.append(f"{kind} {name}: {exc}")
                                ch = c.channel()
            except Exception as exc:  # report, never hide the benchmark's own error
                failures.append(f"rabbitmq: {exc!r}")
        for failure in failures:
            log(f"cleanup failed: {failure}")
        self.schemas, self.queues, self.exchanges = [], [], []


# --- statistics --------------------------------------------------------------------


def median(values) -> float:
    return statistics.median(values)


def percentile(values, p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def spread(values) -> str:
    """min..max of the rounds, to show how noisy a median is."""
    return f"{min(values):,.0f}..{max(values):,.0f}"


def megabytes(size: int) -> str:
    return f"{size / 2 ** 20:,.0f} MB"


# --- running a load on N threads for a fixed time ----------------------------------


@dataclass
class Run:
    ops: int
    seconds: float
    client_cpu: float  # CPU seconds of this process (every thread) during the run

    @property
    def rate(self) -> float:
        return self.ops / self.seconds


def run_threads(n: int, make_worker: Callable[[int], Callable[[], None]], seconds: float) -> Run:
    """``n`` threads, each calling its worker in a loop for ``seconds``.

    ``make_worker(i)`` runs before the clock starts and returns the function one
    call of which is one operation. All threads start together at a barrier and
    stop at the same deadline; every finished operation counts.
    """
    workers = [make_worker(i) for i in range(n)]
    counts = [0] * n
    errors: list[BaseException] = []
    barrier = threading.Barrier(n + 1)
    state = {"deadline": 0.0}
    ends = [0.0] * n

    def loop(i: int) -> None:
        op = workers[i]
        try:
            barrier.wait()
            deadline = state["deadline"]
            done = 0
            while time.perf_counter() < deadline:
                op()
                done += 1
            counts[i] = done
        except BaseException as exc:  # surfaced after join
            errors.append(exc)
        finally:
            ends[i] = time.perf_counter()

    threads = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    cpu = time.process_time()
    start = time.perf_counter()
    state["deadline"] = start + seconds
    barrier.wait()
    for t in threads:
        t.join()
    cpu = time.process_time() - cpu
    if errors:
        raise errors[0]
    return Run(sum(counts), max(ends) - start, cpu)


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def backend_cpu(pids: list[int]) -> float | None:
    """CPU seconds (user + system) the given PostgreSQL backends have used so
    far; None if their /proc entries are not readable (a remote server)."""
    total = 0
    try:
        for pid in pids:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    except (OSError, IndexError, ValueError):
        return None
    return total / _TICK


# --- processes on this machine: their sockets, RabbitMQ's VM ---------------------


def socket_inodes(pid: int) -> set[str]:
    """The inodes of the sockets ``pid`` has open (``/proc/<pid>/fd``)."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        pass
    return inodes


def local_ports(inodes: set[str]) -> set[int]:
    """The local TCP ports of the sockets with these inodes (``/proc/net/tcp``, ``tcp6``): a
    PostgreSQL backend serving the process shows one as its ``pg_stat_activity.client_port``."""
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    cols = line.split()
                    if cols[9] in inodes:
                        ports.add(int(cols[1].rsplit(":", 1)[1], 16))
        except (OSError, IndexError, ValueError):
            pass
    return ports


def rabbit_pids() -> list[int]:
    """The RabbitMQ node's Erlang VM (``beam.smp``), if it runs on this machine."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm", "rb") as f:
                comm = f.read().strip()
            if comm.startswith(b"beam"):
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if b"rabbit" in f.read():
                        pids.append(int(entry))
        except OSError:
            pass
    return pids


# --- the machine ---------------------------------------------------------------------


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine(settings: Settings) -> list[tuple[str, str]]:
    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    with db.connect(settings.database_url, autocommit=True) as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
        sync, fsync = (conn.execute(f"SHOW {s}").fetchone()[0] for s in ("synchronous_commit", "fsync"))
    try:
        import kombu

        with kombu.Connection(settings.amqp_uri, connect_timeout=5) as c:
            c.connect()
            props = c.connection.server_properties
            rabbit = f"{props.get('product', 'RabbitMQ')} {props.get('version', '?')}"
            if isinstance(rabbit, bytes):
                rabbit = rabbit.decode()
    except Exception as exc:
        rabbit = f"unknown ({exc.__class__.__name__})"
    try:
        load = "%.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        load = "?"
    return [
        ("CPU", f"{cpu_model()}, {cores} cores ({usable} usable)"),
        ("Load average at start", load),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("PostgreSQL", f"{pg} (synchronous_commit={sync}, fsync={fsync})"),
        ("RabbitMQ", rabbit),
        ("psycopg", psycopg.__version__),
    ]


RELAY_WAIT = 300.0  # seconds a service's relay may take to publish what a section seeded


def wait_for_relay(settings: Settings, schema: str, service: str) -> float:
    """Seconds until the outbox relay of ``service`` (in ``schema``) has published every event."""
    from tests.support.polling import eventually

    start = time.perf_counter()
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        head = conn.execute(f"SELECT coalesce(max(position), 0) FROM {schema}.events").fetchone()[0]

        def published() -> int:
            return conn.execute(f"SELECT max(position) FROM {schema}.relay_checkpoint").fetchone()[0] or 0

        eventually(published, lambda position: position >= head, RELAY_WAIT,
                   f"the {service} relay publishing the seeded events", interval=0.2)
    return time.perf_counter() - start

