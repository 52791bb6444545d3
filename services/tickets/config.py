"""The tickets service's own settings, read once when the service starts
(``TicketsConfig.from_env``): a bad value stops it with a clear error
instead of being read, and guessed, on every call. The settings every
service shares (database, bus) are ``seedwork.config``'s."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

DEFAULT_PLATFORM_REVIEW_DAYS = 3
DEFAULT_MERGE_UNDO_HOURS = 72


@dataclass(frozen=True)
class TicketsConfig:
    # Days within which the platform's review team contacts a shopper charged
    # without an order number (the flow's ``expected_contact_by``).
    platform_review_days: int = DEFAULT_PLATFORM_REVIEW_DAYS
    # Hours after a merge within which staff may undo it (POST /v1/tickets/{id}/unmerge).
    merge_undo_hours: int = DEFAULT_MERGE_UNDO_HOURS

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "TicketsConfig":
        return cls(platform_review_days=_days(env, "PLATFORM_REVIEW_DAYS", DEFAULT_PLATFORM_REVIEW_DAYS),
                   merge_undo_hours=_hours(env, "MERGE_UNDO_HOURS", DEFAULT_MERGE_UNDO_HOURS))


def _days(env: Mapping[str, str], key: str, default: int) -> int:
    raw = env.get(key, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{key} must be a whole number of days, 1 or more, got {raw!r}")
    return int(raw)


def _hours(env: Mapping[str, str], key: str, default: int) -> int:
    raw = env.get(key, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{key} must be a whole number of hours, 1 or more, got {raw!r}")
    return int(raw)
