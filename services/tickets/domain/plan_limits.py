"""The limits a store's plan sets on what it may create (docs/agent-operations.md,
"Plan limits"). The platform sets them on the gateway (``PUT
/v1/stores/{id}/plan``); the gateway passes them with each create, and the
service that keeps the things counts them under a per-store lock. Plain Python.
"""
from __future__ import annotations

from typing import Any, Mapping

from seedwork.errors import Conflict

# What a plan limits; null (or absent) is no limit.
LIMITS = ("staff_seats", "teams", "topics")
NOUNS = {"staff_seats": ("staff seat", "staff seats"), "teams": ("team", "teams"), "topics": ("topic", "topics")}


def limit_of(limits: Mapping[str, Any] | None, name: str) -> int | None:
    """The plan's limit on ``name``; None: unlimited (also for a store without a plan)."""
    value = (limits or {}).get(name)
    if value is None or isinstance(value, bool) or not isinstance(value, int):
        return None
    return max(value, 0)


def check_room(limits: Mapping[str, Any] | None, name: str, count: int) -> None:
    """Refuse one more of ``name`` when the store already has ``count`` and
    the plan allows no more: 409 ``plan_limit_reached`` naming the limit."""
    limit = limit_of(limits, name)
    if limit is not None and count >= limit:
        singular, plural = NOUNS[name]
        message = f"the plan allows {limit} {singular if limit == 1 else plural}"
        raise Conflict("plan_limit_reached", message, {name: [message]})
