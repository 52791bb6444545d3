"""Migration discovery, naming rules and checksums (seedwork.migrations).

``migrate`` itself runs against PostgreSQL; here it only meets a recording
fake connection, to check which files it applies, skips or refuses.
"""
from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

import pytest

from seedwork.migrations import CORE, Migration, MigrationError, discover, migrate


def write(folder: Path, name: str, sql: str = "SELECT 1;") -> Path:
    path = folder / name
    path.write_text(sql)
    return path


def test_discover_orders_by_version(tmp_path):
    write(tmp_path, "0010_tenth.sql", "-- ten")
    write(tmp_path, "0002_second.sql", "-- two")
    write(tmp_path, "0001_first.sql", "-- one")

    found = discover("tickets", tmp_path)

    assert [(m.version, m.name) for m in found] == [(1, "first"), (2, "second"), (10, "tenth")]
    assert [m.sql for m in found] == ["-- one", "-- two", "-- ten"]
    assert {m.component for m in found} == {"tickets"}


def test_discover_ignores_files_that_are_not_sql(tmp_path):
    write(tmp_path, "0001_first.sql")
    write(tmp_path, "README.md", "# notes")
    write(tmp_path, "0002_draft.sql.bak")
    write(tmp_path, "__init__.py", "")
    assert [m.name for m in discover("tickets", tmp_path)] == ["first"]


def test_discover_accepts_a_string_folder(tmp_path):
    write(tmp_path, "0001_first.sql")
    assert [m.version for m in discover("tickets", str(tmp_path))] == [1]


def test_empty_folder_has_no_migrations(tmp_path):
    assert discover("tickets", tmp_path) == []


@pytest.mark.parametrize(
    "name",
    [
        "1_init.sql",  # four digits
        "001_init.sql",
        "00001_init.sql",
        "0001-init.sql",
        "0001init.sql",
        "0001_.sql",
        "0001_Init.sql",  # lowercase only
        "0001_add-index.sql",
        "0001_add index.sql",
        "init.sql",
        "v0001_init.sql",
    ],
)
def test_badly_named_sql_file_is_refused_not_skipped(tmp_path, name):
    write(tmp_path, "0001_ok.sql")
    write(tmp_path, name)
    with pytest.raises(MigrationError, match="NNNN_name.sql") as info:
        discover("tickets", tmp_path)
    assert name in str(info.value)


@pytest.mark.parametrize("name", ["0001_init.sql", "0042_add_sla_2.sql", "9999_x.sql", "0000_bootstrap.sql"])
def test_well_named_files(tmp_path, name):
    write(tmp_path, name)
    [migration] = discover("tickets", tmp_path)
    assert migration.version == int(name[:4])
    assert migration.name == name[5:-4]


def test_two_files_with_the_same_version_are_refused(tmp_path):
    write(tmp_path, "0001_first.sql")
    write(tmp_path, "0002_alpha.sql")
    write(tmp_path, "0002_beta.sql")
    with pytest.raises(MigrationError, match="share a version"):
        discover("tickets", tmp_path)


def test_core_event_store_migrations_are_well_formed():
    found = discover("eventstore", CORE)
    assert found[0].version == 1 and found[0].name == "event_store"
    assert [m.version for m in found] == sorted({m.version for m in found})
    for migration in found:
        assert "{schema}" in migration.sql  # never hard-codes a schema
    assert "{schema}.events" in found[0].sql


# --- checksum --------------------------------------------------------------------------


def test_checksum_is_sha256_of_the_sql_text():
    sql = "CREATE TABLE {schema}.t (id int);\n"
    migration = Migration("tickets", 1, "t", sql)
    assert migration.checksum == hashlib.sha256(sql.encode()).hexdigest()
    assert len(migration.checksum) == 64


def test_checksum_changes_with_any_edit():
    base = Migration("tickets", 1, "t", "CREATE TABLE {schema}.t (id int);")
    edited = Migration("tickets", 1, "t", "CREATE TABLE {schema}.t (id  int);")
    assert base.checksum != edited.checksum


def test_checksum_depends_only_on_the_sql():
    # The same file recorded under another name/component/version keeps its checksum,
    # and (being computed before {schema} is replaced) it is the same for every schema.
    a = Migration("tickets", 1, "a", "SELECT 1;")
    b = Migration("customers", 7, "b", "SELECT 1;")
    assert a.checksum == b.checksum


def test_checksum_of_a_discovered_file_matches_its_content(tmp_path):
    sql = "-- é\nCREATE INDEX ON {schema}.events (type);\n"
    write(tmp_path, "0003_index.sql", sql)
    [migration] = discover("tickets", tmp_path)
    assert migration.checksum == hashlib.sha256(sql.encode("utf-8")).hexdigest()


# --- migrate against a recording fake connection ---------------------------------------------


class FakeConnection:
    def __init__(self, applied: list[tuple[str, int, str]] = ()):
        self.applied = list(applied)  # (component, version, checksum) rows in schema_migrations
        self.statements: list[tuple[str, tuple | None]] = []
        self.transactions = 0

    @contextlib.contextmanager
    def transaction(self):
        self.transactions += 1
        yield

    def execute(self, sql, params=None):
        self.statements.append((sql, params))
        if sql.startswith("SELECT component, version, checksum FROM"):
            return iter(self.applied)
        return None

    def sql_run(self) -> list[str]:
        return [s for s, _ in self.statements]


def test_migrate_refuses_an_unsafe_schema_before_touching_the_database():
    conn = FakeConnection()
    with pytest.raises(ValueError, match="schema"):
        migrate(conn, "x; drop schema public")
    assert conn.statements == []


def test_migrate_applies_pending_files_in_order_with_the_schema_substituted(tmp_path):
    write(tmp_path, "0002_two.sql", "CREATE TABLE {schema}.two ();")
    write(tmp_path, "0001_one.sql", "CREATE TABLE {schema}.one ();")
    core = [(m.component, m.version, m.checksum) for m in discover("eventstore", CORE)]
    conn = FakeConnection(applied=core)

    applied = migrate(conn, "tickets", [("tickets", tmp_path)])

    assert applied == ["tickets/0001_one", "tickets/0002_two"]
    run = conn.sql_run()
    assert run.index("CREATE TABLE tickets.one ();") < run.index("CREATE TABLE tickets.two ();")
    assert not any("{schema}" in s for s in run)
    recorded = [p for s, p in conn.statements if s.startswith("INSERT INTO tickets.schema_migrations")]
    assert [(c, v, n) for c, v, n, _ in recorded] == [("tickets", 1, "one"), ("tickets", 2, "two")]
    assert recorded[0][3] == Migration("tickets", 1, "one", "CREATE TABLE {schema}.one ();").checksum
    assert conn.transactions == 1  # all pending files in one transaction
    assert "pg_advisory_xact_lock" in run[0]


def test_migrate_skips_files_already_applied(tmp_path):
    write(tmp_path, "0001_one.sql", "CREATE TABLE {schema}.one ();")
    one = discover("tickets", tmp_path)[0]
    core = [(m.component, m.version, m.checksum) for m in discover("eventstore", CORE)]
    conn = FakeConnection(applied=core + [("tickets", 1, one.checksum)])

    assert migrate(conn, "tickets", [("tickets", tmp_path)]) == []
    assert "CREATE TABLE tickets.one ();" not in conn.sql_run()


def test_migrate_applies_core_tables_first_on_a_new_schema(tmp_path):
    write(tmp_path, "0001_one.sql", "CREATE TABLE {schema}.one ();")
    applied = migrate(FakeConnection(), "tickets", [("tickets", tmp_path)])
    assert applied[0] == "eventstore/0001_event_store"
    assert applied[-1] == "tickets/0001_one"


def test_migrate_refuses_a_file_edited_after_it_was_applied(tmp_path):
    write(tmp_path, "0001_one.sql", "CREATE TABLE {schema}.one (id int);")  # edited since
    core = [(m.component, m.version, m.checksum) for m in discover("eventstore", CORE)]
    stale = Migration("tickets", 1, "one", "CREATE TABLE {schema}.one ();").checksum
    conn = FakeConnection(applied=core + [("tickets", 1, stale)])

    with pytest.raises(MigrationError, match=r"0001_one changed after it was applied to schema tickets"):
        migrate(conn, "tickets", [("tickets", tmp_path)])
    assert not any(s.startswith("CREATE TABLE tickets.one") for s in conn.sql_run())


def test_versions_are_per_component(tmp_path):
    write(tmp_path, "0001_event_store.sql", "CREATE TABLE {schema}.mine ();")  # same number and name as core
    core = [(m.component, m.version, m.checksum) for m in discover("eventstore", CORE)]
    applied = migrate(FakeConnection(applied=core), "tickets", [("tickets", tmp_path)])
    assert applied == ["tickets/0001_event_store"]
