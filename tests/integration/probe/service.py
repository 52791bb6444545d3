"""The probe service: the same building blocks as a real service."""
import time

from nameko.rpc import rpc

from seedwork.envelope import Actor, NewEvent
from seedwork.nameko_ext import EventSourcing, bus_handler


class ProbeService:
    name = "probe"

    db = EventSourcing()  # finds ./migrations itself, as a real service does

    @rpc
    def sleep_in_database(self, seconds):
        """Wall-clock start and end of a ``pg_sleep`` on a pooled connection."""
        with self.db.pool.connection() as conn:
            started = time.time()
            conn.execute("SELECT pg_sleep(%s)", (seconds,))
            return started, time.time()

    @rpc
    def append(self, stream_id, expected_version, event_type, data):
        stored = self.db.store.append(
            stream_id, expected_version, [NewEvent(event_type, data, actor=Actor("system"))])
        return [str(e.event_id) for e in stored]

    @bus_handler("probe", "probe.work")
    def on_work(self, event):
        """Records an effect; ``data.poison`` makes it fail until the test repairs it."""
        def effect(conn):
            if event.data.get("poison"):
                repaired = conn.execute(
                    f"SELECT 1 FROM {self.db.store.schema}.repaired WHERE handler = 'on_work'").fetchone()
                if not repaired:
                    raise RuntimeError(f"cannot digest {event.event_id}")
            conn.execute(f"INSERT INTO {self.db.store.schema}.effects (event_id, handler) VALUES (%s, 'on_work')",
                         (event.event_id,))
        if not self.db.once(event, effect):
            with self.db.pool.connection() as conn:
                conn.execute(f"INSERT INTO {self.db.store.schema}.skipped (event_id) VALUES (%s)", (event.event_id,))
