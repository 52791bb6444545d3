"""How long a failed delivery waits before its next attempt, and when it gives up.

A schedule lists the waits after the 1st, 2nd, ... failed attempt; after the
last one the delivery is dead. Email and SMS share one (about 4 h in all),
webhooks have a longer one (over 24 h). Every wait gets ±20% jitter, so the
deliveries that failed together (a server down) do not all retry together.
``NOTIFY_RETRY_SCHEDULE`` and ``WEBHOOK_RETRY_SCHEDULE`` (comma-separated
seconds, read by ``config``) replace them, for tests and operators.
"""
from __future__ import annotations

import random
from typing import Callable

EMAIL_SCHEDULE: tuple[float, ...] = (10, 30, 60, 120, 300, 600, 1800, 3600, 7200)
# 5 s ... 8 h, 8 h, 8 h: 31.7 h in all, so over 24 h even when every wait is jittered 20% shorter
# (with only two 8 h waits the schedule would sum to 23.7 h).
WEBHOOK_SCHEDULE: tuple[float, ...] = (5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 28800, 28800)
JITTER = 0.2


def next_delay(schedule: tuple[float, ...], attempts_done: int,
               rng: Callable[[], float] = random.random) -> float | None:
    """Seconds to wait after ``attempts_done`` failed attempts (at least 1), or None: give up."""
    if attempts_done < 1:
        raise ValueError("next_delay is asked after a failed attempt (attempts_done >= 1)")
    if attempts_done > len(schedule):
        return None
    return schedule[attempts_done - 1] * (1 + JITTER * (2 * rng() - 1))
