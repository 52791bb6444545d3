"""What an agent works from: the views with their counts, a view's tickets,
and "next ticket" (``POST /v1/queue/next``). The views' filters and who
sees which cell are ``domain.queues``'; the counts are a projection
(``read_models.ViewCounts``), never a ``COUNT(*)`` per view per request.
"""
from __future__ import annotations

import logging


from seedwork.caller import Caller
from seedwork.errors import Forbidden

from .domain import queues
from .listing import view_conditions
from .read_models import ReadModels
from .reads import TicketReads, ViewerOf
from .saved_views import SavedViews
from .writes import TicketWrites

log = logging.getLogger(__name__)

# Candidates looked at per call: the first one nobody else is taking wins.
NEXT_CANDIDATES = 10


def staff_only(caller: Caller) -> None:
    if not caller.is_staff:
        raise Forbidden("staff_only", "views and the queue are the store's staff's")


class AgentQueues:
    def __init__(self, views: SavedViews, read_models: ReadModels, reads: TicketReads, writes: TicketWrites,
                 viewer_of: ViewerOf):
        self.views, self.read_models, self.reads, self.writes = views, read_models, reads, writes
        self.store = writes.store
        self.viewer_of = viewer_of
        s = self.store.schema
        order = "sla_due_at NULLS LAST, priority_rank DESC, created_at, number"

        def waiting(team: str, by: str = order) -> str:
            return (f"SELECT ticket_id, sla_due_at, priority_rank, created_at, number FROM {s}.ticket_list "
                    "WHERE store_id = %(store)s AND assignee_id IS NULL AND status = 'open' AND awaiting_staff "
                    f"AND handled_by = 'store' AND NOT tags @> ARRAY[%(spam)s]::text[] AND {team} "
                    f"ORDER BY {by} LIMIT %(n)s FOR UPDATE SKIP LOCKED")

        # One walk of the queue index per team the caller takes from, and one of the
        # tickets on no team (a team-scoped agent takes only from their teams), each
        # stopping at its first unlocked candidates; the most urgent of those win. An
        # OR of the teams cannot walk the index in order: PostgreSQL would read every
        # waiting ticket of those teams and sort them, on every call. (``team IS NULL``
        # does not tell the planner that the index's team column is constant, so that
        # walk is ordered by it too: the same order, as every such row has no team.)
        self._candidates = (
            "SELECT ticket_id FROM ("
            f"SELECT c.* FROM unnest(%(teams)s::text[]) AS slot(team) "
            f"CROSS JOIN LATERAL ({waiting('team = slot.team')}) c "
            f"UNION ALL SELECT * FROM ({waiting('team IS NULL AND NOT %(scoped)s', f'team, {order}')}) z"
            f") candidates ORDER BY {order} LIMIT %(n)s")

    # --- views ---------------------------------------------------------------------

    def list_views(self, caller: Caller) -> dict:
        """Every view the caller has, each with its count, in one snapshot."""
        staff_only(caller)
        with self.store.transaction() as conn:
            # Counts and the position they reflect are read in one snapshot.
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            viewer = self.viewer_of(conn, caller)
            views = self.views.visible(conn, caller)
            counts, position = self.views.counts(conn, caller, views, viewer, self.read_models.counts.cells)
        items = [{**v, "count": counts[v["id"]], "position": str(position)} for v in views]
        return {"items": items, "position": str(position)}

    def view(self, caller: Caller, view_id: str) -> dict:
        staff_only(caller)
        with self.store.pool.connection() as conn:
            return self.views.get_in(conn, caller, view_id)

    def view_tickets(self, caller: Caller, view_id: str, query: dict) -> dict:
        """A view's tickets, as ``GET /v1/tickets`` lists them (its sort unless the query names one)."""
        staff_only(caller)
        with self.store.pool.connection() as conn:
            view = self.views.get_in(conn, caller, view_id)
            viewer = self.viewer_of(conn, caller)
        query = {"sort": view["sort"], **{k: v for k, v in query.items() if k in ("cursor", "limit", "sort")}}
        page = self.reads.list(caller, query, also=view_conditions(view["filter"], viewer))
        return {**page, "view": {"id": view["id"], "name": view["name"]}}

    def create_view(self, caller: Caller, fields: dict) -> dict:
        staff_only(caller)
        return {"view": self.views.create(caller, fields, self.read_models.counts.count_in), "created": True}

    def update_view(self, caller: Caller, view_id: str, fields: dict, expected_version: int | None) -> dict:
        staff_only(caller)
        counts = self.read_models.counts
        return self.views.update(caller, view_id, fields, expected_version, counts.count_in, counts.drop_view)

    def delete_view(self, caller: Caller, view_id: str) -> None:
        staff_only(caller)
        self.views.delete(caller, view_id, self.read_models.counts.drop_view)

    # --- the next ticket -------------------------------------------------------------

    def next_ticket(self, caller: Caller) -> dict | None:
        """Assign the caller the most urgent unanswered ticket of their teams
        (or of no team): SLA due first, then priority, then age. Two agents
        calling at once lock different rows (SKIP LOCKED), so they never get
        the same ticket. None when nothing waits."""
        staff_only(caller)
        with self.store.transaction() as conn:
            viewer = self.viewer_of(conn, caller)
            rows = conn.execute(self._candidates, {"store": caller.store_id, "spam": queues.SPAM_TAG,
                                                   "teams": sorted(viewer.team_ids), "scoped": viewer.scoped,
                                                   "n": NEXT_CANDIDATES}).fetchall()
            for (ticket_id,) in rows:
                # A writer holding the ticket waits for this row: never wait for it back.
                if not self.store.try_lock_stream(conn, ticket_id):
                    continue
                events = self.store.load(ticket_id, conn=conn)
                state = self.reads.visible(conn, caller, ticket_id, events)
                if state.assignee_id is not None or state.status != "open":
                    continue
                answer = self.writes.execute_in(conn, caller, ticket_id, [["assign", {"assignee_id": caller.id}]],
                                                None, events)
                log.info("queue: ticket %s to agent %s", ticket_id, caller.id)
                return answer
        return None

