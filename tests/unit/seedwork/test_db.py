"""psycopg's wait function under eventlet (seedwork.db).

The choice is made once per process, when psycopg is first imported, so each
case runs in a fresh interpreter. No database is contacted.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def run(code: str, **extra_env: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PSYCOPG_WAIT_FUNC"}
    env["PYTHONPATH"] = str(ROOT)
    env["PYTHONWARNINGS"] = "ignore"
    env.update(extra_env)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60,
    )


def ok(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, result.stderr


def test_under_eventlet_seedwork_db_makes_psycopg_wait_cooperatively():
    ok(run("""
        import os
        import eventlet; eventlet.monkey_patch()
        import seedwork.db
        import psycopg.waiting
        assert psycopg.waiting.wait is psycopg.waiting.wait_select, psycopg.waiting.wait
        assert os.environ["PSYCOPG_WAIT_FUNC"] == "wait_select"
        seedwork.db.assert_cooperative()
    """))


def test_psycopg_imported_before_patching_is_detected():
    result = run("""
        import psycopg  # picks the blocking C wait: eventlet is not there yet
        import eventlet; eventlet.monkey_patch()
        import seedwork.db
        import psycopg.waiting
        assert psycopg.waiting.wait is psycopg.waiting.wait_c
        try:
            seedwork.db.assert_cooperative()
        except seedwork.db.BlockingWaitError as exc:
            assert "PSYCOPG_WAIT_FUNC=wait_select" in str(exc), exc
        else:
            raise SystemExit("assert_cooperative did not raise")
        # and connect() refuses before trying the network
        try:
            seedwork.db.connect("postgresql://nobody@192.0.2.1:1/none", connect_timeout=1)
        except seedwork.db.BlockingWaitError:
            pass
        else:
            raise SystemExit("connect did not raise BlockingWaitError")
    """)
    ok(result)


def test_seedwork_db_imported_before_patching_is_detected_at_connect_time():
    ok(run("""
        import seedwork.db
        import eventlet; eventlet.monkey_patch()
        try:
            seedwork.db.assert_cooperative()
        except seedwork.db.BlockingWaitError:
            pass
        else:
            raise SystemExit("assert_cooperative did not raise")
    """))


def test_explicit_wait_func_before_psycopg_import_is_enough():
    ok(run("""
        import psycopg.waiting  # imported first, but told which wait to use
        import eventlet; eventlet.monkey_patch()
        import seedwork.db
        assert psycopg.waiting.wait is psycopg.waiting.wait_select
        seedwork.db.assert_cooperative()
    """, PSYCOPG_WAIT_FUNC="wait_select"))


def test_without_eventlet_nothing_changes():
    ok(run("""
        import os, sys
        import seedwork.db
        import psycopg.waiting
        assert "eventlet" not in sys.modules  # seedwork.db does not import it
        assert "PSYCOPG_WAIT_FUNC" not in os.environ
        assert psycopg.waiting.wait is psycopg.waiting.wait_c  # the fast C wait is fine here
        seedwork.db.assert_cooperative()
    """))


def test_eventlet_imported_but_not_patched_counts_as_not_patched():
    ok(run("""
        import os
        import eventlet  # imported, no monkey_patch
        import seedwork.db
        assert "PSYCOPG_WAIT_FUNC" not in os.environ
        seedwork.db.assert_cooperative()
    """))


@pytest.mark.parametrize("module", ["seedwork.store", "seedwork.relay", "seedwork.consumer", "seedwork.migrations"])
def test_importing_any_seedwork_module_first_under_eventlet_is_cooperative(module):
    ok(run(f"""
        import eventlet; eventlet.monkey_patch()
        import {module}
        import seedwork.db
        seedwork.db.assert_cooperative()
    """))
