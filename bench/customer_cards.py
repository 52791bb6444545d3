"""The customers section's data: who the customers are, and loading their cards.

``People`` draws them: Arabic and Latin names from lists with a long tail
(hamza-less alefs, heh for ta marbuta, a shadda now and then), unique Saudi
mobiles, emails, cities; the same seed, the same people. ``customer_search``
times a store of their cards, and ``customer_import`` writes its CSV file from
them.

``load_cards`` fills the ``cards`` projection of a scratch schema, made by the
customers service's own migrations (``cards_schema``), with ``customers``
cards in one store (plus a few hundred in two other stores) with one ``COPY``:
the people above, registration dates over three years, orders and spend,
groups, some blocked and flagged cards, in random registration order (as
after an import, or years of order updates moving rows). ``name_key``,
``city_key`` and ``search_text`` are computed with
``services.customers.normalise`` exactly as ``CardsProjection.upsert_card``
computes them. The secondary indexes are dropped before the ``COPY`` and
rebuilt after it from their own definitions (a bulk load's usual order; the
result is the same indexes), then ``VACUUM ANALYZE``. The cards have no
events behind them: a list reads only ``cards``. What it times is the load
(``COPY``, the indexes, ``VACUUM ANALYZE``), which figure 9 reports.
"""
from __future__ import annotations

import json
import random
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from psycopg import sql

from seedwork import db
from seedwork.cli import service_migrations
from seedwork.migrations import migrate
from services.customers.normalise import fold_text, search_text

from .common import Scratch, Settings, log

OTHER_STORE_CARDS = 300  # in each of two other stores
SEED = 20_240_601  # People's seed; the search and the import draw from SEED + 1 and SEED + 2
YEARS = 3

# --- who the customers are ----------------------------------------------------------------

# First and family names, Arabic and Latin, most common first (``_zipf`` weighs them by rank):
# ar_m, ar_f, ar_fam, la_m, la_f, la_fam.
NAMES = json.loads(Path(__file__).with_name("names.json").read_text(encoding="utf-8"))
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
        self.lists = {key: _zipf(names) for key, names in NAMES.items()}
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

