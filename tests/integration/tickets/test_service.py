"""The tickets service as Nameko runs it, in this process: its RPC
entrypoints against the real PostgreSQL and RabbitMQ."""
from nameko.testing.services import entrypoint_hook

from services.tickets.service import TicketsService


def test_the_service_reports_its_database_and_relay(run_service):
    container = run_service(TicketsService)
    with entrypoint_hook(container, "health") as health:
        report = health()
    assert report["database"] == "ok" and report["schema"].startswith("t_tickets_")
