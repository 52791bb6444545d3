"""``python -m seedwork.launch SERVICE [nameko run options]``: ``nameko run`` for one service.

It is exactly ``nameko run --config services/<svc>/config.yml services.<svc>.service``
with two things done first, before eventlet or psycopg is imported:

- eventlet's deprecation notice is silenced (it is ours to track, not the
  operator's to read on every start);
- ``PSYCOPG_WAIT_FUNC=wait_select``, so database waits yield to other green
  threads (``seedwork.db`` checks this again at connect time).
"""
from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def quiet_eventlet_notice() -> None:
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    warnings.filterwarnings("ignore", message=r".*pkg_resources is deprecated")


def nameko_run(config_file: Path, module: str, extra: list[str] = ()) -> None:
    """``nameko run --config CONFIG [extra] MODULE`` in this process."""
    quiet_eventlet_notice()
    os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from nameko.cli.main import main as nameko_main

    sys.argv = ["nameko", "run", "--config", str(config_file), *extra, module]
    nameko_main()


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-"):
        sys.exit("usage: python -m seedwork.launch SERVICE [nameko run options]")
    service, extra = argv[0], argv[1:]
    config_file = ROOT / "services" / service / "config.yml"
    if not config_file.is_file():
        sys.exit(f"unknown service {service!r}: no {config_file}")
    nameko_run(config_file, f"services.{service}.service", extra)


if __name__ == "__main__":
    main()
