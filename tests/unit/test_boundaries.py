"""The boundaries between services hold by construction: `make lint` runs
import-linter's contracts (pyproject.toml), and this proves they bite. On a
copy of the tree, one service importing another breaks the build."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(tree: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--config", str(tree / "pyproject.toml"), "--no-cache"], cwd=tree,
                          env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def tree(tmp_path) -> Path:
    """The project's packages and its lint configuration, copied."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in ("seedwork", "services"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_tree_keeps_its_contracts_and_one_service_importing_another_breaks_them(tree):
    kept = lint_imports(tree)
    assert kept.returncode == 0, kept.stdout + kept.stderr

    # The tickets service reaching into the customers service's code.
    (tree / "services" / "tickets" / "shortcut.py").write_text("from services.customers import normalise  # noqa\n")
    broken = lint_imports(tree)
    assert broken.returncode != 0
    assert "Each service imports only seedwork and itself BROKEN" in broken.stdout
    assert "services.tickets.shortcut -> services.customers.normalise" in broken.stdout


def test_seedwork_importing_a_service_breaks_the_contracts(tree):
    (tree / "seedwork" / "shortcut.py").write_text("import services.gateway.auth  # noqa\n")
    broken = lint_imports(tree)
    assert "seedwork imports no service BROKEN" in broken.stdout


def test_a_domain_module_reaching_for_the_database_breaks_the_contracts(tree):
    (tree / "services" / "tickets" / "domain" / "shortcut.py").write_text("import psycopg  # noqa\n")
    broken = lint_imports(tree)
    assert "Domain modules are plain Python: no database, no Nameko, no broker, no network BROKEN" in broken.stdout
    assert "services.tickets.domain.shortcut -> psycopg" in broken.stdout
