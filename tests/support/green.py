"""``python -m tests.support.green [pytest args]``: pytest under eventlet, as
the services themselves run (``seedwork.launch``): green threads, patched
sockets, psycopg's cooperative wait. The integration tests run this way, so a
service's container can run in the test process (Nameko 2.14's pytest plugin
no longer patches; this is its ``nameko test`` with the same quiet start-up
as ``seedwork.launch``)."""
from __future__ import annotations

import os
import sys

from seedwork.launch import quiet_eventlet_notice


def main(args: list[str]) -> int:
    quiet_eventlet_notice()
    os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")
    import eventlet

    eventlet.monkey_patch()
    import pytest

    return pytest.main(["-W", "ignore:Module already imported:pytest.PytestWarning", *args])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
