"""Customers: search over one store of 1,000,000 cards, and a CSV import
through HTTP.

Part 1, search (in process). The ``cards`` projection of a scratch schema,
made by the customers service's own migrations, receives ``customers`` cards
in one store (plus a few hundred in two other stores) with one ``COPY``:
Arabic and Latin names drawn from lists with a long tail (hamza-less alefs,
heh for ta marbuta, a shadda now and then), unique Saudi mobiles, cities,
registration dates over three years, orders and spend, groups, some blocked
and flagged cards, in random registration order (as after an import, or
years of order updates moving rows). ``name_key``, ``city_key`` and
``search_text`` are computed with ``services.customers.normalise`` exactly as
``Projection.upsert_card`` computes them. The secondary indexes are dropped
before the ``COPY`` and rebuilt after it from their own definitions (a bulk
load's usual order; the result is the same indexes), then ``VACUUM ANALYZE``.
The cards have no events behind them: a list reads only ``cards``.

Then the service's own path, ``Customers(EventStore(pool, schema)).cards.list(caller,
query)``, is timed for each query kind in ``KINDS``, with varied values, the
kinds rotated every round. Baselines on the same table, same run: the raw
first page ``SELECT id ... ORDER BY registered_at DESC, id DESC LIMIT 25`` (an
index walk), and, for reference, a raw ``count(*)`` of one common term with
``search_text LIKE '%term%'``. The notes name each kind's slowest value, how
the service's connection planned its statement (psycopg prepares a statement
on its 5th run; PostgreSQL may then settle on one generic plan), and
``EXPLAIN ANALYZE`` of the plan for its values and of the generic plan.

Part 2, import (through HTTP). The tickets, customers and gateway processes
(``processes.System``, a private vhost). An ``import_rows``-row CSV file on
disk (name, mobile, email, city; mobiles written the ways people write them;
1% bad rows). Each round (at most ``IMPORT_ROUNDS``): a new store, the file
POSTed to ``/v1/customers/import`` streaming from disk (every card created),
the same file again (every row unchanged), then the baseline: raw psycopg
``executemany`` INSERT of the same rows into a plain table. Also measured:
CPU per row of every process involved, and peak RSS (``VmHWM``) of the
gateway, the customers service and this process before and after.
"""
from __future__ import annotations

import csv
import json
import os
import random
import tempfile
import time
import uuid
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import psycopg
from psycopg import sql

from seedwork import db
from seedwork.cli import service_migrations
from seedwork.migrations import migrate
from seedwork.store import EventStore
from seedwork.caller import Caller
from services.customers.application import Customers
from services.customers.listing import CustomerQuery, list_cards
from services.customers.normalise import fold_text, like_pattern, search_text

from .common import Scratch, Settings, backend_cpu, log, median, percentile, wait_for_relay
from .httpapi import _local_ports, _rabbit_pids, _socket_inodes
from tests.support.servers import vhosts_unavailable

from .processes import Client, System
from .report import Row, Verdict

DEFAULT_CUSTOMERS = 1_000_000
DEFAULT_IMPORT_ROWS = 20_000
OTHER_STORE_CARDS = 300  # in each of two other stores
SEED = 20_240_601
YEARS = 3
SAMPLES = 40  # queries per kind and round (20 with --quick) ...
KIND_SECONDS = 4.0  # ... or fewer, when a kind has used this long in a round
WARMUP = 6  # queries per kind before timing: psycopg prepares after 5
COUNT_SAMPLES = 3  # raw LIKE counts per round
IMPORT_TIMEOUT = 1800.0
IMPORT_ROUNDS = 3  # at most: each is a new store, an import and a re-import (~85 s at 20,000 rows)
BATCH_ROWS = 1_000  # rows per import_rows call (services/gateway/csvfile.py)

# --- who the customers are ----------------------------------------------------------------

AR_MALE = ("محمد عبدالله أحمد عبدالرحمن خالد فهد سعد عبدالعزيز فيصل سلطان عمر علي يوسف إبراهيم ناصر تركي بندر "
           "ماجد نايف مشعل سعود حسن حمد راشد ياسر وليد طلال زياد عادل مازن هشام أسامة حمزة مصطفى إسماعيل بدر "
           "ريان نواف ثامر أنس").split()
AR_FEMALE = ("فاطمة نورة سارة مريم عائشة هيا ريم لطيفة أمل منيرة هند أسماء خديجة جواهر العنود شهد رنا لمى دانة "
             "غادة أروى رهف جميلة حصة نوف ملاك سمية آمنة رقية أميرة").split()
AR_FAMILY = ("العتيبي القحطاني الغامدي الزهراني الدوسري الشمري الحربي المطيري العنزي السبيعي الشهري العمري "
             "المالكي الخالدي السلمي اليامي البقمي الرشيدي الجهني العسيري الشهراني الأحمدي الأنصاري البلوي "
             "التميمي الثبيتي الحارثي السهلي الشريف الصاعدي الفيفي القرني النعيمي الهاجري الودعاني باعشن").split()
LATIN_MALE = ("Mohammed Ahmed Abdullah Khalid Fahad Omar Ali Yousef Ibrahim Faisal Sultan Nasser Turki Saad "
              "Hassan Mohamed Muhammad Ahmad Rahul John Jose Anil Imran Bilal Tariq").split()
LATIN_FEMALE = ("Fatima Noura Sarah Maryam Aisha Reem Haya Hind Amal Lama Dana Ghada Sara Nora Fatimah Maria "
                "Priya Anna Zainab Layla").split()
LATIN_FAMILY = ("Al-Otaibi Alqahtani Al-Ghamdi Alzahrani Al-Dossary Alshammari Al-Harbi Almutairi Al-Anazi "
                "Alsubaie Khan Hussain Sharma Santos Smith Ahmed Abdullah Siddiqui Fernandes Cruz Alotaibi "
                "Al-Qahtani").split()
# Planted: each first name on RARE_EACH cards only, each with another family name.
RARE_FIRST = ("ثريا", "غفران", "بتول", "وجدان", "إيلاف", "جمانة", "سنابل", "Zubaida", "Eleanor", "Thaddeus",
              "Lucinda", "Kazuki")
RARE_EACH = 3
CITIES = (("الرياض", 30), ("جدة", 16), ("جده", 2), ("مكة المكرمة", 8), ("المدينة المنورة", 6), ("الدمام", 6),
          ("الخبر", 4), ("الطائف", 3), ("تبوك", 2), ("بريدة", 2), ("أبها", 2), ("خميس مشيط", 2), ("حائل", 1.5),
          ("نجران", 1), ("جازان", 1), ("الأحساء", 2), ("ينبع", 1), ("Riyadh", 3), ("Jeddah", 2), ("Dammam", 1))
NO_CITY = 0.08
MOBILE_PREFIXES = ("50", "53", "54", "55", "56", "58", "59")  # Saudi mobile prefixes, valid for phonenumbers
GROUPS = (("VIP", 0.06), ("عملاء الجملة", 0.03), ("Newsletter", 0.12), ("رمضان 2025", 0.05))
BLOCK_REASONS = ("non_serious_orders", "abusive_language", "fraud_suspicion", "other")
BLOCKED = 0.005
FLAGGED = 0.001
EMAIL_DOMAINS = ("gmail.com", "hotmail.com", "outlook.sa", "yahoo.com", "icloud.com")


def _zipf(names: list[str], s: float = 1.0) -> tuple[list[str], list[float]]:
    """Name frequencies that fall off like real ones: the first is the commonest."""
    return names, [1 / (rank + 1) ** s for rank in range(len(names))]


def _spelling(word: str, rng: random.Random) -> str:
    """How merchants and shoppers actually type it: a bare alef for أ/إ/آ, heh
    for ta marbuta, a shadda on Mohammed now and then."""
    if word[0] in "أإآ" and rng.random() < 0.35:
        word = "ا" + word[1:]
    if word.endswith("ة") and rng.random() < 0.3:
        word = word[:-1] + "ه"
    if word == "محمد" and rng.random() < 0.03:
        word = "محمّد"
    return word


class People:
    """Draws names, mobiles, emails and cities; the same seed, the same people."""

    def __init__(self, seed: int, mobiles: int):
        self.rng = random.Random(seed)
        self.lists = {key: _zipf(names) for key, names in (
            ("ar_m", AR_MALE), ("ar_f", AR_FEMALE), ("ar_fam", AR_FAMILY), ("la_m", LATIN_MALE),
            ("la_f", LATIN_FEMALE), ("la_fam", LATIN_FAMILY))}
        self.cities = [c for c, _ in CITIES], [w for _, w in CITIES]
        # Unique mobiles: a sample of the 7 prefixes x 10^7 numbers, in random order.
        self.numbers = self.rng.sample(range(len(MOBILE_PREFIXES) * 10 ** 7), mobiles)

    def pick(self, key: str) -> str:
        names, weights = self.lists[key]
        return self.rng.choices(names, weights)[0]

    def name(self) -> tuple[str, str, str | None]:
        """(first, family, gender)."""
        rng = self.rng
        arabic, male = rng.random() < 0.65, rng.random() < 0.55
        if arabic:
            first = _spelling(self.pick("ar_m" if male else "ar_f"), rng)
            return first, _spelling(self.pick("ar_fam"), rng), "male" if male else "female"
        return self.pick("la_m" if male else "la_f"), self.pick("la_fam"), "male" if male else "female"

    def mobile(self, k: int) -> str:
        prefix, rest = divmod(self.numbers[k], 10 ** 7)
        return f"+966{MOBILE_PREFIXES[prefix]}{rest:07d}"

    def email(self, first: str, family: str, k: int) -> str | None:
        if not first.isascii():
            return f"user{k}@{self.rng.choice(EMAIL_DOMAINS)}" if self.rng.random() < 0.25 else None
        if self.rng.random() < 0.4:
            return None
        local = f"{first}.{family}".lower().replace("-", "")
        return f"{local}{self.rng.randint(1, 999)}@{self.rng.choice(EMAIL_DOMAINS)}"

    def city(self) -> str | None:
        if self.rng.random() < NO_CITY:
            return None
        return self.rng.choices(*self.cities)[0]


# --- part 1: loading the cards --------------------------------------------------------------

COPY_COLUMNS = (
    "id", "store_id", "name", "name_key", "mobile", "email", "city", "city_key", "gender", "birthday", "notes",
    "created_at", "updated_at", "registered_at", "orders_count", "total_spent", "groups", "blocked",
    "block_reason", "block_details", "blocked_at", "blocked_by", "flags", "flagged", "version", "search_text",
)


class Cards:
    """Rows of the ``cards`` table for ``count`` customers of ``store_id``; the
    values of the query kinds are collected on the way."""

    def __init__(self, people: People, store_id: str, count: int, groups: list[str], now: datetime,
                 first_mobile: int = 0):
        self.people, self.store_id, self.count, self.groups, self.now = people, store_id, count, groups, now
        self.first_mobile = first_mobile
        rng = people.rng
        self.rare_at = {}
        if count >= 10 * len(RARE_FIRST) * RARE_EACH:
            spots = rng.sample(range(count), len(RARE_FIRST) * RARE_EACH)
            self.rare_at = {k: RARE_FIRST[i // RARE_EACH] for i, k in enumerate(spots)}
        self.rare_names: list[str] = []
        self.mobiles: list[str] = []  # a sample, for the "last 6 digits" queries
        self.flagged = 0

    def rows(self):
        people, rng, now = self.people, self.people.rng, self.now
        span = YEARS * 365 * 86400
        for k in range(self.count):
            first, family, gender = people.name()
            if k in self.rare_at:
                first = self.rare_at[k]
                family = people.pick("ar_fam" if not first.isascii() else "la_fam")
                self.rare_names.append(f"{first} {family}")
            name = f"{first} {family}"
            mobile = people.mobile(self.first_mobile + k)
            if k % 1000 == 7:
                self.mobiles.append(mobile)
            email = people.email(first, family, k)
            city = people.city()
            registered = now - timedelta(seconds=rng.random() * span)
            updated = registered + timedelta(seconds=rng.random() * (now - registered).total_seconds())
            orders = 0 if rng.random() < 0.35 else int(rng.expovariate(0.25)) + 1
            spent = f"{orders * rng.uniform(40, 600):.2f}"
            groups = [gid for gid, (_, share) in zip(self.groups, GROUPS) if rng.random() < share]
            birthday = (registered - timedelta(days=rng.randint(18 * 365, 60 * 365))).date() \
                if rng.random() < 0.4 else None
            version = 1 + (updated != registered)
            block = (None, None, None, None)
            blocked = rng.random() < BLOCKED
            if blocked:
                reason = rng.choice(BLOCK_REASONS)
                block = (reason, "كثرة الطلبات الملغاة" if reason == "other" else None, updated,
                         json.dumps({"type": "agent", "id": str(uuid.UUID(int=rng.getrandbits(128)))}))
                version += 1
            flags = "[]"
            flagged = rng.random() < FLAGGED
            if flagged:
                self.flagged += 1
                flags = json.dumps([{
                    "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "code": "non_serious_buyer",
                    "reasons": [{"rule": "cod_refusals", "count": 3,
                                 "description": "3 cash-on-delivery orders refused or returned in 180 days"}],
                    "raised_at": updated.isoformat()}])
                version += 1
            yield (
                uuid.UUID(int=rng.getrandbits(128), version=4), self.store_id, name, fold_text(name), mobile, email,
                city, fold_text(city) if city else None, gender, birthday, None, registered, updated, registered,
                orders, spent, "{" + ",".join(groups) + "}", blocked, *block, flags, flagged, version,
                search_text(name, mobile, email),
            )


def cards_schema(settings: Settings, scratch: Scratch) -> str:
    """A scratch schema migrated like the customers service's own."""
    schema = f"{settings.prefix}_cards"
    scratch.schemas.append(schema)
    with db.connect(settings.database_url, autocommit=True) as conn:
        migrate(conn, schema, service_migrations("customers"))
    return schema


def load_cards(settings: Settings, schema: str, big_store: str, count: int) -> tuple[Cards, dict]:
    """COPY the cards of three stores; returns the big store's ``Cards`` and timings."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    people = People(SEED, count + 2 * OTHER_STORE_CARDS)
    timings = {}
    with db.connect(settings.database_url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem TO '256MB'")
        # Groups of the big store: ids in cards.groups, names from this table.
        groups = [str(uuid.UUID(int=people.rng.getrandbits(128), version=4)) for _ in GROUPS]
        with conn.cursor() as cur:
            cur.executemany(f"INSERT INTO {schema}.groups (id, store_id, name, name_key, created_at, version) "
                            "VALUES (%s, %s, %s, %s, %s, 1)",
                            [(gid, big_store, name, fold_text(name), now - timedelta(days=YEARS * 365))
                             for gid, (name, _) in zip(groups, GROUPS)])
        indexes = conn.execute(
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace "
            "WHERE n.nspname = %s AND t.relname = 'cards' AND NOT x.indisprimary AND NOT x.indisunique",
            (schema,)).fetchall()
        for name, _ in indexes:
            conn.execute(sql.SQL("DROP INDEX {}.{}").format(sql.Identifier(schema), sql.Identifier(name)))
        big = Cards(people, big_store, count, groups, now)
        others = [Cards(people, str(uuid.uuid4()), OTHER_STORE_CARDS, [], now, count + i * OTHER_STORE_CARDS)
                  for i in range(2)]
        start = time.perf_counter()
        copy_sql = f"COPY {schema}.cards ({', '.join(COPY_COLUMNS)}) FROM STDIN"
        done = 0
        with conn.transaction(), conn.cursor() as cur, cur.copy(copy_sql) as copy:
            for cards in (big, *others):
                for row in cards.rows():
                    copy.write_row(row)
                    done += 1
                    if done % 200_000 == 0:
                        log(f"customers: {done:,} cards written ({time.perf_counter() - start:.0f}s)")
        timings["copy"] = time.perf_counter() - start
        start = time.perf_counter()
        for _name, definition in indexes:
            conn.execute(definition)
        timings["indexes"] = time.perf_counter() - start
        start = time.perf_counter()
        conn.execute(f"VACUUM ANALYZE {schema}.cards")
        conn.execute(f"ANALYZE {schema}.groups")
        timings["analyze"] = time.perf_counter() - start
        timings["index_names"] = [name for name, _ in indexes]
        sizes = conn.execute(
            "SELECT pg_total_relation_size(c.oid), pg_relation_size(c.oid), pg_indexes_size(c.oid), "
            "pg_relation_size(%s::regclass) FROM pg_class c WHERE c.oid = %s::regclass",
            (f"{schema}.cards_search", f"{schema}.cards")).fetchone()
        timings["sizes"] = dict(zip(("total", "table", "indexes", "search_index"), sizes))
    return big, timings


# --- part 1: the query kinds ------------------------------------------------------------------

# kind -> label; the values come from ``kind_values``.
KINDS = {
    "name": "q = a common first name (محمد, احمد, Sarah, ...)",
    "rare": "q = a rare full name (1 card)",
    "prefix": "q = 3 letters (عبد, فاط, Kha, ...)",
    "two": "q = first + family name",
    "mobile05": "q = mobile prefix typed nationally (05xyz)",
    "last6": "q = last 6 digits of a mobile",
    "city": "city=<city>, sort=name",
    "flagged": "flagged=true (0.1% of cards)",
    "miss": "q that matches nothing",
}


def kind_values(cards: Cards, rng: random.Random) -> dict[str, list[dict]]:
    q = lambda values: [{"q": v} for v in values]  # noqa: E731
    values = {
        "name": q(["محمد", "احمد", "فاطمه", "نورة", "Mohammed", "Ahmed", "Sarah", "عبدالله", "خالد", "Fahad"]),
        "rare": q(cards.rare_names),
        "prefix": q(["عبد", "فاط", "Kha", "Nou", "سلط", "Abd", "مري", "Sar", "ترك", "Moh"]),
        "two": q(["محمد القحطاني", "أحمد العتيبي", "فاطمة الشمري", "Mohammed Alqahtani", "Sarah Khan",
                  "خالد الغامدي", "نوره الحربي", "Ahmed Al-Harbi", "عبدالرحمن الدوسري", "Fatima Hussain"]),
        "mobile05": q([f"05{rng.choice(MOBILE_PREFIXES)[1]}{rng.randint(0, 99):02d}" for _ in range(20)]),
        "last6": q([m[-6:] for m in rng.sample(cards.mobiles, min(30, len(cards.mobiles)))]),
        "city": [{"city": c, "sort": "name"} for c in ("الرياض", "جده", "ابها", "Riyadh", "ينبع", "مكه المكرمه")],
        "flagged": [{"flagged": "true", "sort": s} for s in ("-registered", "name", "-spent")],
        "miss": q(["qxzvj", "ظغضذ", "Brzeczyszczykiewicz", "ثخثخثخ", "Xylqo Vrent", "zzkq 0599"]),
    }
    for items in values.values():
        rng.shuffle(items)
    return values


def expected_sizes(kind: str, found: list[int]) -> bool:
    """Whether the pages each kind returned look like what was loaded."""
    if kind == "miss":
        return max(found) == 0
    if kind in ("rare", "mobile05", "last6", "two"):
        return min(found) >= 1
    return min(found) == 25


def _captured_sql(schema: str, card_select: str, store_id: str, query: dict) -> tuple[str, list]:
    """The statement and parameters ``list_cards`` sends for ``query``."""
    captured = {}

    class Spy:
        def execute(self, statement, params, **kwargs):  # kwargs: e.g. prepare=
            captured["sql"], captured["params"] = statement, params
            return SimpleNamespace(fetchall=lambda: [])

    list_cards(Spy(), schema, card_select, store_id, CustomerQuery.from_dict(query), lambda r: r)
    return captured["sql"], captured["params"]


def _numbered(statement: str) -> str:
    """``%s`` placeholders as ``$1, $2, ...``: the text psycopg prepares."""
    parts = statement.split("%s")
    return "".join(part + (f"${i}" if i < len(parts) else "") for i, part in enumerate(parts, 1))


def _summary(plan: dict) -> str:
    """The plan's nodes (with index names and rows), time and buffers."""
    nodes = []

    def walk(node):
        if node.get("Parent Relationship") == "SubPlan":
            return  # the groups look-up per returned row
        label = node["Node Type"]
        if "Index Name" in node:
            label += f" {node['Index Name']}"
        if node["Node Type"] in ("Bitmap Heap Scan", "Index Scan", "Seq Scan", "Index Only Scan"):
            label += f" ({node['Actual Rows'] * node.get('Actual Loops', 1):,} rows"
            if node.get("Rows Removed by Filter"):
                label += f", {node['Rows Removed by Filter']:,} filtered out"
            label += ")"
        nodes.append(label)
        for child in node.get("Plans", ()):
            walk(child)

    walk(plan["Plan"])
    buffers = plan["Plan"].get("Shared Hit Blocks", 0) + plan["Plan"].get("Shared Read Blocks", 0)
    return f"{' > '.join(nodes)}; {plan['Execution Time']:.1f} ms, {buffers:,} buffers"


def _plan(conn, statement: str, params: list) -> str:
    """EXPLAIN ANALYZE with the values: the custom plan PostgreSQL makes for them."""
    return _summary(conn.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement, params).fetchone()[0][0])


def _generic_plan(conn, statement: str, params: list) -> str:
    """EXPLAIN ANALYZE of the generic plan (what a prepared statement runs
    once PostgreSQL's plan cache settles on it), with the same values."""
    cur = psycopg.ClientCursor(conn)
    try:
        conn.execute("SET plan_cache_mode = force_generic_plan")
        conn.execute(f"PREPARE bench_generic AS {_numbered(statement)}")
        arguments = ", ".join(["%s"] * len(params))
        cur.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE bench_generic({arguments})", params)
        return _summary(cur.fetchone()[0][0])
    finally:
        cur.close()
        conn.execute("DEALLOCATE bench_generic")
        conn.execute("RESET plan_cache_mode")


def search(settings: Settings, scratch: Scratch) -> tuple[list[Row], list[Verdict], list[str]]:
    count = getattr(settings, "customers", DEFAULT_CUSTOMERS)
    schema = cards_schema(settings, scratch)
    store_id = str(uuid.uuid4())
    log(f"customers: loading {count:,} cards into one store of {schema}.cards (+{2 * OTHER_STORE_CARDS} in two "
        "other stores)")
    started = time.perf_counter()
    cards, load = load_cards(settings, schema, store_id, count)
    load_seconds = time.perf_counter() - started
    log(f"customers: loaded in {load_seconds:.0f}s (COPY {load['copy']:.0f}s, indexes {load['indexes']:.0f}s, "
        f"VACUUM ANALYZE {load['analyze']:.0f}s)")
    rng = random.Random(SEED + 1)
    values = kind_values(cards, rng)
    pool = db.make_pool(settings.database_url, min_size=1, max_size=1, name="bench-customers")
    customers = Customers(EventStore(pool, schema))
    cards_app = customers.cards
    caller = Caller("agent", str(uuid.uuid4()), store_id, "owner")
    raw = psycopg.connect(settings.database_url, autocommit=True)
    first_page = f"SELECT id FROM {schema}.cards WHERE store_id = %s ORDER BY registered_at DESC, id DESC LIMIT 25"
    count_like = f"SELECT count(*) FROM {schema}.cards WHERE store_id = %s AND search_text LIKE %s"
    common = "محمد"
    per_round = 20 if settings.quick else SAMPLES
    samples: dict[str, list[float]] = defaultdict(list)
    round_p50: dict[str, list[float]] = defaultdict(list)
    by_value: dict[tuple[str, int], list[float]] = defaultdict(list)
    found: dict[str, list[int]] = defaultdict(list)
    cursors = {kind: 0 for kind in values}

    def ours(kind: str) -> float:
        i = cursors[kind] % len(values[kind])
        cursors[kind] += 1
        start = time.perf_counter()
        page = cards_app.list(caller, values[kind][i])
        took = time.perf_counter() - start
        found[kind].append(len(page["items"]))
        by_value[(kind, i)].append(took * 1e3)
        return took

    def walk() -> float:
        start = time.perf_counter()
        raw.execute(first_page, (store_id,)).fetchall()
        return time.perf_counter() - start

    def counted() -> float:
        start = time.perf_counter()
        found["count"].append(raw.execute(count_like, (store_id, like_pattern(common))).fetchone()[0])
        return time.perf_counter() - start

    try:
        for kind in values:
            for _ in range(WARMUP):
                ours(kind)
        for _ in range(WARMUP):
            walk()
        found.clear()
        by_value.clear()
        names = [*values, "walk", "count"]
        for r in range(settings.rounds):
            for name in names[r % len(names):] + names[: r % len(names)]:
                op = walk if name == "walk" else counted if name == "count" else (lambda k=name: ours(k))
                n = COUNT_SAMPLES if name == "count" else per_round
                this_round, deadline = [], time.perf_counter() + KIND_SECONDS
                while len(this_round) < n and (len(this_round) < 3 or time.perf_counter() < deadline):
                    this_round.append(op() * 1e3)
                samples[name] += this_round
                round_p50[name].append(median(this_round))
            log(f"customers search round {r + 1}/{settings.rounds}: " + ", ".join(
                f"{name} {round_p50[name][-1]:.1f}ms" for name in names))
        bad = {kind: sorted(set(found[kind])) for kind in values if not expected_sizes(kind, found[kind])}
        if bad:
            raise RuntimeError(f"unexpected page sizes from the loaded store: {bad}")
        # How the service's connection ran each statement: psycopg prepares a
        # statement on its 5th run; PostgreSQL then plans it for the values 5
        # more times and may settle on one generic plan for every value.
        with pool.connection() as conn:
            prepared = {text: (generic, custom) for text, generic, custom in conn.execute(
                "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements")}
        card_select = customers.projection.card_select
        slowest = {}
        for kind in values:
            i = max(range(len(values[kind])), key=lambda j: median(by_value[(kind, j)] or [0]))
            query = values[kind][i]
            statement, params = _captured_sql(schema, card_select, store_id, query)
            generic, custom = prepared.get(_numbered(statement), (0, 0))
            text = (f"{_describe(query)} (median {median(by_value[(kind, i)]):.1f} ms; the service's connection "
                    f"ran its statement with {generic} generic and {custom} custom plans): "
                    f"plan for these values: {_plan(raw, statement, params)}")
            if generic:
                text += f"; generic plan: {_generic_plan(raw, statement, params)}"
            slowest[kind] = text
        count_plan = _plan(raw, count_like, [store_id, like_pattern(common)])
    finally:
        raw.close()
        pool.close()

    section = f"9. Customer search, {count:,} customers in one store (in process; ms)"
    walk_p50 = percentile(samples["walk"], 50)
    sizes = load["sizes"]
    rows = [
        Row(section, f"loading {count + 2 * OTHER_STORE_CARDS:,} cards (generate + COPY, indexes, VACUUM ANALYZE)",
            f"{load_seconds:.0f} s", spread=f"COPY {load['copy']:.0f} s ({count / load['copy']:,.0f} cards/s), "
            f"indexes {load['indexes']:.0f} s, analyze {load['analyze']:.0f} s"),
        Row(section, "raw first page: SELECT id ... ORDER BY registered_at DESC, id DESC LIMIT 25 (baseline)",
            _pp(samples["walk"]), spread=_rng(round_p50["walk"])),
        Row(section, f"raw count(*) of search_text LIKE '%{common}%' ({found['count'][0]:,} cards; reference)",
            _pp(samples["count"]), spread=_rng(round_p50["count"])),
    ]
    for kind, label in KINDS.items():
        s = samples[kind]
        rows.append(Row(section, f"Customers.list: {label}", _pp(s), f"p50 {walk_p50:.2f}",
                        percentile(s, 50) / walk_p50, "p50 / raw first page p50", spread=_rng(round_p50[kind])))
    notes = [
        f"customers search: {count:,} cards in one store + {OTHER_STORE_CARDS} in each of two others, loaded in "
        f"{load_seconds:.0f} s: generating rows in Python (normalise.fold_text / search_text per card) and one "
        f"COPY {load['copy']:.0f} s, rebuilding the {len(load['index_names'])} secondary indexes "
        f"{load['indexes']:.0f} s, VACUUM ANALYZE {load['analyze']:.0f} s; cards table + indexes "
        f"{_mb(sizes['total'])} (heap {_mb(sizes['table'])}, indexes {_mb(sizes['indexes'])}, of which the "
        f"trigram index cards_search {_mb(sizes['search_index'])}); rows in random registration order",
        f"customers search: per kind and round up to {per_round} queries (fewer once a kind has used "
        f"{KIND_SECONDS:g} s), values varied, kinds rotated; p50/p99 over all {settings.rounds} rounds "
        "(samples: " + ", ".join(f"{k} {len(samples[k])}" for k in (*KINDS, "walk", "count")) + "); "
        "Customers.list = CustomerQuery.from_dict + a pooled connection + the SQL + card_view",
        "customers search: rows found per page, min..max: " + ", ".join(
            f"{k} {min(found[k])}..{max(found[k])}" for k in KINDS),
        f"customers search: count LIKE '%{common}%' plan: {count_plan}",
        *(f"customers search, slowest value of {kind}: {text}" for kind, text in slowest.items()),
    ]
    return rows, [], notes


def _describe(query: dict) -> str:
    return "&".join(f"{k}={v}" for k, v in query.items())


def _pp(values: list[float]) -> str:
    return f"p50 {percentile(values, 50):.2f}, p99 {percentile(values, 99):.2f}"


def _rng(values: list[float]) -> str:
    return f"p50 {min(values):.2f}..{max(values):.2f}"


def _mb(size: int) -> str:
    return f"{size / 2 ** 20:,.0f} MB"


# --- part 2: the CSV import through HTTP --------------------------------------------------------

BAD_KINDS = ("mobile", "name", "email", "cells", "duplicate")


def write_csv(path: Path, rows: int, seed: int) -> tuple[list[list[str]], int]:
    """An import file: header ``name,mobile,email,city``; mobiles written the
    many ways people write them; every 100th row bad in one of ``BAD_KINDS``.
    Returns the rows (for the baseline) and how many are bad."""
    people = People(seed, rows)
    rng = people.rng
    forms = (
        lambda m: m,                                                  # +966501234567
        lambda m: "0" + m[4:],                                        # 0501234567
        lambda m: f"00966 {m[4:6]} {m[6:9]} {m[9:]}",                 # 00966 50 123 4567
        lambda m: ("0" + m[4:]).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")),  # Arabic-Indic digits
        lambda m: f"0{m[4:6]}-{m[6:9]}-{m[9:]}",                      # 050-123-4567
    )
    out, bad = [], 0
    for k in range(rows):
        first, family, _ = people.name()
        mobile = people.mobile(k)
        cells = [f"{first} {family}", rng.choice(forms)(mobile), people.email(first, family, k) or "",
                 people.city() or ""]
        if k % 100 == 50:
            bad += 1
            kind = BAD_KINDS[(k // 100) % len(BAD_KINDS)]
            if kind == "mobile":
                cells[1] = "05123"
            elif kind == "name":
                cells[0] = ""
            elif kind == "email":
                cells[2] = "not-an-email@"
            elif kind == "cells":
                cells = cells[:2]
            else:
                cells[1] = out[-1][1]  # the previous row's mobile
        out.append(cells)
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["name", "mobile", "email", "city"])
        writer.writerows(out)
    return out, bad


def _status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in bytes."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = int(rest.split()[0]) * 1024
    except OSError:
        pass
    return out


def _reset_peak(pid: int | str = "self") -> bool:
    """Start VmHWM again from the current RSS (Linux ``clear_refs`` 5)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class CpuMeter:
    """CPU seconds per process of the gateway, customers and tickets services,
    the PostgreSQL backends serving them and RabbitMQ (``/proc/<pid>/stat``)."""

    WHO = ("gateway", "customers", "tickets", "postgres", "rabbitmq")

    def __init__(self, system: System, settings: Settings):
        self.system = system
        self.conn = psycopg.connect(settings.database_url, autocommit=True)

    def _pids(self) -> dict[str, list[int]]:
        pids = self.system.pids()
        ports = _local_ports(set().union(*(_socket_inodes(p) for p in pids.values())))
        rows = self.conn.execute("SELECT pid, client_port FROM pg_stat_activity WHERE client_port IS NOT NULL")
        return {"gateway": [pids["gateway"]], "customers": [pids["customers"]], "tickets": [pids["tickets"]],
                "postgres": [pid for pid, port in rows.fetchall() if port in ports], "rabbitmq": _rabbit_pids()}

    def read(self) -> dict[str, dict[int, float]]:
        out = {}
        for who, pids in self._pids().items():
            out[who] = {pid: cpu for pid in pids if (cpu := backend_cpu([pid])) is not None}
        return out

    @staticmethod
    def spent(before: dict, after: dict) -> dict[str, float]:
        """CPU seconds between two readings; a backend opened in between counts from zero."""
        return {who: sum(cpu - before.get(who, {}).get(pid, 0.0) for pid, cpu in after.get(who, {}).items())
                for who in CpuMeter.WHO if after.get(who)}

    def close(self) -> None:
        self.conn.close()


def import_csv(settings: Settings, scratch: Scratch) -> tuple[list[Row], list[Verdict], list[str]]:
    why_not = vhosts_unavailable()
    if why_not:
        log(f"customers import: skipped ({why_not})")
        return [], [], [f"customers import: skipped: {why_not} (a private RabbitMQ vhost is needed)"]
    n = getattr(settings, "import_rows", DEFAULT_IMPORT_ROWS)
    rounds = min(settings.rounds, IMPORT_ROUNDS)
    system = System(settings, scratch)
    plain = scratch.plain_schema("importraw")
    workdir = Path(tempfile.mkdtemp(prefix=f"{settings.prefix}_csv_"))
    client = meter = None
    seconds: dict[str, list[float]] = defaultdict(list)
    cpu: dict[str, dict[str, float]] = {"first": defaultdict(float), "again": defaultdict(float)}
    results: dict[str, list[dict]] = defaultdict(list)
    relay, raw_seconds, memory = [], [], {}
    try:
        log(f"customers import: starting tickets + customers + gateway on port {system.port}, "
            f"vhost {system.vhost.name}")
        system.start()
        client = Client(system.base_url)
        meter = CpuMeter(system, settings)
        path = workdir / "customers.csv"
        rows, bad = write_csv(path, n, SEED + 2)
        size = path.stat().st_size
        good = [(r + ["", "", "", ""])[:4] for r in rows]
        pids = system.pids()

        def peaks() -> dict[str, dict[str, int]]:
            return {**{svc: _status(pids[svc]) for svc in ("gateway", "customers")}, "client": _status(os.getpid())}

        client_reset = _reset_peak()
        memory["before"] = peaks()
        url = system.base_url + "/v1/customers/import"
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            conn.execute(f"CREATE TABLE {plain}.customers (name text, mobile text, email text, city text)")
            for r in range(rounds):
                # A new store each round: the first import creates every card.
                store = system.new_store(client, f"Bench import store {r + 1}")
                headers = {"Authorization": f"Bearer {store.owner_token}", "Content-Type": "text/csv"}
                for attempt in ("first", "again"):
                    before = meter.read()
                    with open(path, "rb") as body:  # requests streams a file object, Content-Length from its size
                        start = time.perf_counter()
                        response = client.http.post(url, data=body, headers=headers, timeout=IMPORT_TIMEOUT)
                        seconds[attempt].append(time.perf_counter() - start)
                    for who, spent in CpuMeter.spent(before, meter.read()).items():
                        cpu[attempt][who] += spent
                    if response.status_code != 200:
                        raise RuntimeError(f"POST /v1/customers/import ({attempt}): {response.status_code}: "
                                           f"{response.text[:500]}")
                    results[attempt].append(response.json())
                    if r == 0:
                        memory[attempt] = peaks()
                    # Publishing this import's events is not part of the next one.
                    relay.append(wait_for_relay(settings, system.schemas["customers"], "customers"))
                conn.execute(f"TRUNCATE {plain}.customers")
                start = time.perf_counter()
                with conn.transaction(), conn.cursor() as cur:
                    cur.executemany(f"INSERT INTO {plain}.customers (name, mobile, email, city) "
                                    "VALUES (%s, %s, %s, %s)", good)
                raw_seconds.append(time.perf_counter() - start)
                log(f"customers import round {r + 1}/{rounds}: " + ", ".join(
                    f"{a} {n / seconds[a][-1]:,.0f} rows/s" for a in ("first", "again"))
                    + f", raw executemany {n / raw_seconds[-1]:,.0f} rows/s")
        memory["end"] = peaks()
    finally:
        if meter is not None:
            meter.close()
        if client is not None:
            client.close()
        log("customers import: stopping the services, deleting the vhost")
        system.stop()
        for p in workdir.glob("*"):
            p.unlink()
        workdir.rmdir()

    good_rows = n - bad
    firsts, agains = results["first"], results["again"]
    verdicts = [
        Verdict("customers import adds up",
                all(f["created"] == good_rows and f["rejected_count"] == bad for f in firsts),
                "first import, every round: created " + ", ".join(f"{f['created']:,}" for f in firsts)
                + ", rejected " + ", ".join(f"{f['rejected_count']:,}" for f in firsts)
                + f" (the file: {good_rows:,} good rows, {bad:,} bad)", check=True),
        Verdict("customers re-import changes nothing",
                all(a["unchanged"] == good_rows and a["created"] == a["updated"] == 0 for a in agains),
                "the same file again, every round: unchanged " + ", ".join(f"{a['unchanged']:,}" for a in agains)
                + ", created or updated " + ", ".join(f"{a['created'] + a['updated']:,}" for a in agains)
                + ", rejected " + ", ".join(f"{a['rejected_count']:,}" for a in agains), check=True),
    ]
    raw_rate = n / median(raw_seconds)
    section = (f"10. Customer CSV import through HTTP, {n:,} rows ({size / 2 ** 20:.1f} MB) in one request "
               "(rows/s)")
    rows_out = []
    for attempt, label in (("first", "POST /v1/customers/import into a new store (creates every card)"),
                           ("again", "the same file again (every row unchanged)")):
        rate = n / median(seconds[attempt])
        rows_out.append(Row(section, label, f"{rate:,.0f} rows/s", f"{raw_rate:,.0f} rows/s", rate / raw_rate,
                            "ours / raw executemany",
                            spread=f"{n / max(seconds[attempt]):,.0f}..{n / min(seconds[attempt]):,.0f}/s; "
                                   f"{median(seconds[attempt]):.1f} s"))
    rows_out.append(Row(section, "raw psycopg executemany INSERT of the same rows, one transaction (baseline)",
                        f"{raw_rate:,.0f} rows/s",
                        spread=f"{n / max(raw_seconds):,.0f}..{n / min(raw_seconds):,.0f}/s"))
    for who in ("gateway", "customers", "client"):
        b, f1, f2, end = (memory[k][who] for k in ("before", "first", "again", "end"))
        if not b:
            continue
        rows_out.append(Row(section, f"peak RSS (VmHWM) of {who}: before / after 1st import / after re-import "
                            f"/ after {rounds} rounds",
                            f"{_mb(b['VmHWM'])} / {_mb(f1['VmHWM'])} / {_mb(f2['VmHWM'])} / {_mb(end['VmHWM'])}",
                            spread=f"RSS before {_mb(b['VmRSS'])}, at the end {_mb(end['VmRSS'])}"))
    imports = len(seconds["first"])
    per_row = {attempt: " + ".join(f"{who} {spent / (n * imports) * 1e3:.2f}" for who, spent in cpu[attempt].items())
               + f" = {sum(cpu[attempt].values()) / (n * imports) * 1e3:.2f}" for attempt in cpu}
    batch = median(seconds["first"]) / -(-n // BATCH_ROWS)
    notes = [
        f"customers import: {n:,} rows, every 100th bad ({', '.join(BAD_KINDS)}, in turn); mobiles written as "
        "+966..., 05..., 00966 .. ... ...., Arabic-Indic digits, 05x-xxx-xxxx; the body streamed from the file "
        f"(requests with a file object); {rounds} rounds, each a new store: import, then the same file again, "
        "then the baseline; the customers relay published each import's events "
        f"{max(relay):.1f} s or less after it returned (waited for; the tickets service consumes them meanwhile)",
        "customers import: CPU ms per row (all rounds): first import " + per_row["first"] + "; again "
        + per_row["again"],
        f"customers import: the gateway sends {BATCH_ROWS:,} rows per import_rows call; a first import spent "
        f"{batch:.1f} s per call on average, against the gateway's RPC_TIMEOUT (default 10 s)",
        "customers import: client peak RSS " + ("reset before the import (/proc/self/clear_refs), so it is the "
                                                "import's own" if client_reset else
                                                "not reset (clear_refs refused): it includes part 1's peak"),
        f"customers import: baseline = executemany of the {n:,} rows (bad ones too) into a plain table without "
        "indexes",
    ]
    return rows_out, verdicts, notes


# --- the section ------------------------------------------------------------------------------


def run(settings: Settings, scratch: Scratch) -> tuple[list[Row], list[Verdict], list[str]]:
    rows, verdicts, notes = search(settings, scratch)
    r, v, n = import_csv(settings, scratch)
    return rows + r, verdicts + v, notes + n
