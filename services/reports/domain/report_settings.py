"""A store's report settings. Plain Python; the stream is
``services/reports/report_settings.py`` (``report-settings:{store_id}``).

``agents_see``: ``own`` (an agent's reports show only their own figures) or
``store`` (the whole store's, as owners and admins always see).
"""
from __future__ import annotations

from typing import Any

from seedwork import flat_settings
from seedwork.errors import InvalidCommand

AGENT_SCOPES = ("own", "store")
DEFAULT_SETTINGS: dict[str, Any] = {"agents_see": "own"}
SEES_STORE_ROLES = ("owner", "admin")


def clean_settings_patch(patch: Any) -> dict:
    if not isinstance(patch, dict) or not patch:
        raise InvalidCommand("invalid_fields", "send agents_see",
                             {k: ["send at least one setting"] for k in DEFAULT_SETTINGS})
    clean = {}
    for key, value in patch.items():
        if key == "agents_see":
            if value not in AGENT_SCOPES:
                raise InvalidCommand.field(key, f"one of {', '.join(AGENT_SCOPES)}")
        else:
            raise InvalidCommand.field(str(key)[:64], "unknown setting")
        clean[key] = value
    return clean


def merge_settings(current: dict, patch: dict) -> tuple[dict, dict]:
    return flat_settings.merged(DEFAULT_SETTINGS, current, patch)


def with_defaults(stored: dict) -> dict:
    return flat_settings.with_defaults(DEFAULT_SETTINGS, stored)


def sees_whole_store(settings: dict, role: str | None) -> bool:
    """Whether a staff member of this role reads the store's figures, not only their own."""
    return role in SEES_STORE_ROLES or settings["agents_see"] == "store"
