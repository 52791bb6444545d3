"""The HTTP gateway. For now: ``GET /health``, which asks every service over
RPC and answers 200 only when all of them answered."""
import json

import eventlet
from nameko.rpc import RpcProxy
from nameko.web.handlers import http

BACKENDS = ("tickets", "customers", "notifications")
HEALTH_TIMEOUT = 3.0


class GatewayService:
    name = "gateway"

    tickets = RpcProxy("tickets")
    customers = RpcProxy("customers")
    notifications = RpcProxy("notifications")

    @http("GET", "/health")
    def health(self, request):
        report, calls = {}, {}
        for name in BACKENDS:
            try:
                calls[name] = getattr(self, name).health.call_async()
            except Exception as exc:  # e.g. UnknownService: it never started on this broker
                report[name] = {"error": repr(exc)}
        for name, call in calls.items():
            # A service that is down would leave the reply waiting forever.
            try:
                with eventlet.Timeout(HEALTH_TIMEOUT, False):
                    report[name] = call.result()
            except Exception as exc:  # the service answered with an error
                report[name] = {"error": repr(exc)}
            if name not in report:
                report[name] = {"error": f"no answer within {HEALTH_TIMEOUT}s"}
        healthy = not any("error" in r for r in report.values())
        body = json.dumps({"status": "ok" if healthy else "degraded", "services": report})
        return 200 if healthy else 503, {"Content-Type": "application/json"}, body
