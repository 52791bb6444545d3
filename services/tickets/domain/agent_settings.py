"""A store's settings for how its staff work tickets: who sees which tickets
(``ticket_visibility``) and how tickets on no team are assigned
(``assignment_mode``; a team's own mode governs its tickets). Plain Python;
the stream is ``services/tickets/agent_settings.py``.

``ticket_visibility``: ``all`` (every agent sees every ticket of the store) or
``teams`` (an agent sees the tickets of their teams and those assigned to
them; owners and admins always see all).
"""
from __future__ import annotations

from typing import Any

from seedwork import flat_settings
from seedwork.errors import InvalidCommand

from . import fields
from .teams import MODES

VISIBILITIES = ("all", "teams")
DEFAULT_SETTINGS: dict[str, Any] = {"ticket_visibility": "all", "assignment_mode": "manual"}
# Who sees every ticket whatever the setting.
SEES_ALL_ROLES = ("owner", "admin")


def clean_settings_patch(patch: Any) -> dict:
    if not isinstance(patch, dict) or not patch:
        raise InvalidCommand("invalid_fields", "send ticket_visibility, assignment_mode or both",
                             {k: ["send at least one setting"] for k in DEFAULT_SETTINGS})
    clean = {}
    for key, value in patch.items():
        if key == "ticket_visibility":
            if value not in VISIBILITIES:
                raise InvalidCommand.field(key, f"one of {', '.join(VISIBILITIES)}")
        elif key == "assignment_mode":
            if value not in MODES:
                raise InvalidCommand.field(key, f"one of {', '.join(MODES)}")
        else:
            raise InvalidCommand.field(fields.echo(key), "unknown setting")
        clean[key] = value
    return clean


def merge_settings(current: dict, patch: dict) -> tuple[dict, dict]:
    return flat_settings.merged(DEFAULT_SETTINGS, current, patch)


def with_defaults(stored: dict) -> dict:
    return flat_settings.with_defaults(DEFAULT_SETTINGS, stored)


def is_team_scoped(settings: dict, role: str) -> bool:
    """Whether a staff member of this role sees only their teams' tickets and their own."""
    return settings["ticket_visibility"] == "teams" and role not in SEES_ALL_ROLES
