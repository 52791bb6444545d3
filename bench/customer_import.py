"""Figure 10: a customer CSV import through HTTP.

The tickets, customers and gateway processes (``processes.System``, a
private vhost). An ``import_rows``-row CSV file on disk (name, mobile, email,
city, drawn by ``customer_cards.People``; mobiles written the ways people
write them; 1% bad rows). Each round (at most ``IMPORT_ROUNDS``): a new
store, the file POSTed to ``/v1/customers/import`` streaming from disk (every
card created), the same file again (every row unchanged), then the baseline:
raw psycopg ``executemany`` INSERT of the same rows into a plain table. Also
measured: CPU per row of every process involved, and peak RSS (``VmHWM``) of
the gateway, the customers service and this process before and after.
"""
from __future__ import annotations

import contextlib
import csv
import os
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import psycopg

from tests.support.servers import vhosts_unavailable

from .common import (Scratch, Settings, backend_cpu, local_ports, log, median, megabytes, rabbit_pids, socket_inodes,
                     wait_for_relay)
from .customer_cards import SEED, People
from .processes import Client, System
from .report import Row, Verdict

DEFAULT_IMPORT_ROWS = 20_000
IMPORT_TIMEOUT = 1800.0
IMPORT_ROUNDS = 3  # at most: each is a new store, an import and a re-import (~85 s at 20,000 rows)
BATCH_ROWS = 1_000  # rows per import_rows call (services/gateway/csvfile.py)

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
        ports = local_ports(set().union(*(socket_inodes(p) for p in pids.values())))
        rows = self.conn.execute("SELECT pid, client_port FROM pg_stat_activity WHERE client_port IS NOT NULL")
        return {"gateway": [pids["gateway"]], "customers": [pids["customers"]], "tickets": [pids["tickets"]],
                "postgres": [pid for pid, port in rows.fetchall() if port in ports], "rabbitmq": rabbit_pids()}

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
    seconds: dict[str, list[float]] = defaultdict(list)
    cpu: dict[str, dict[str, float]] = {"first": defaultdict(float), "again": defaultdict(float)}
    results: dict[str, list[dict]] = defaultdict(list)
    relay, raw_seconds, memory = [], [], {}
    with tempfile.TemporaryDirectory(prefix=f"{settings.prefix}_csv_") as tmp, contextlib.ExitStack() as cleanup:
        workdir = Path(tmp)
        cleanup.callback(system.stop)  # last: the callbacks run in reverse
        cleanup.callback(log, "customers import: stopping the services, deleting the vhost")
        log(f"customers import: starting tickets + customers + gateway on port {system.port}, "
            f"vhost {system.vhost.name}")
        system.start()
        client = cleanup.enter_context(contextlib.closing(Client(system.base_url)))
        meter = cleanup.enter_context(contextlib.closing(CpuMeter(system, settings)))
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
                            " / ".join(megabytes(peak["VmHWM"]) for peak in (b, f1, f2, end)),
                            spread=f"RSS before {megabytes(b['VmRSS'])}, at the end {megabytes(end['VmRSS'])}"))
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
