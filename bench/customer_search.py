"""Figure 9: customer search over one store of 1,000,000 cards, in process.

The cards are loaded by ``customer_cards.load_cards`` (``customers`` of them
in one store, a few hundred in two others). Then the service's own path,
``Customers(EventStore(pool, schema)).cards.list(caller, query)``, is timed
for each query kind in ``KINDS``, with varied values, the kinds rotated every
round. Baselines on the same table, same run: the raw first page ``SELECT id
... ORDER BY registered_at DESC, id DESC LIMIT 25`` (an index walk), and, for
reference, a raw ``count(*)`` of one common term with ``search_text LIKE
'%term%'``. The notes name each kind's slowest value, how the service's
connection planned its statement (psycopg prepares a statement on its 5th
run; PostgreSQL may then settle on one generic plan), and ``EXPLAIN ANALYZE``
of the plan for its values and of the generic plan.
"""
from __future__ import annotations

import random
import time
import uuid
from collections import defaultdict
from types import SimpleNamespace

import psycopg

from seedwork import db
from seedwork.caller import Caller
from seedwork.store import EventStore
from services.customers.application import Customers
from services.customers.listing import CustomerQuery, list_cards
from services.customers.normalise import like_pattern

from .common import Scratch, Settings, log, median, megabytes, percentile
from .customer_cards import MOBILE_PREFIXES, OTHER_STORE_CARDS, SEED, Cards, cards_schema, load_cards
from .report import Row, Verdict

DEFAULT_CUSTOMERS = 1_000_000
SAMPLES = 40  # queries per kind and round (20 with --quick) ...
KIND_SECONDS = 4.0  # ... or fewer, when a kind has used this long in a round
WARMUP = 6  # queries per kind before timing: psycopg prepares after 5
COUNT_SAMPLES = 3  # raw LIKE counts per round

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
        f"{megabytes(sizes['total'])} (heap {megabytes(sizes['table'])}, indexes {megabytes(sizes['indexes'])}, "
        f"of which the trigram index cards_search {megabytes(sizes['search_index'])}); rows in random registration "
        "order",
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

