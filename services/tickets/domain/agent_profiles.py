"""An agent's routing profile: availability, capacity and skills, and who
may change which (docs/agent-operations.md, "Agent profiles"). Plain Python;
the stream and the table are ``services/tickets/agent_profiles.py``.
"""
from __future__ import annotations

import re
from typing import Any

from seedwork.errors import Forbidden, InvalidCommand

from .fields import echo

AVAILABILITY = ("online", "away", "offline")
CAPACITY_MAX, MAX_SKILLS = 1000, 50
# A skill is matched against a ticket's labels (domain/routing.py): a tag, a type,
# ``topic:<topic id>`` or ``lang:<language>``, hence the colon, as tags allow it.
SKILL = re.compile(r"[a-z0-9][a-z0-9_:\-]{0,49}")
FIELDS = ("availability", "capacity", "skills")
# An agent never patched: offline, no limit, no skills.
DEFAULTS: dict[str, Any] = {"availability": "offline", "capacity": None, "skills": []}
ADMINS = ("owner", "admin")
# What an agent may change of their own profile; the store's owner and admins change anything of anyone's.
OWN_FIELDS = ("availability",)


def check_may_patch(role: str, caller_id: str | None, agent_id: str, sent: dict) -> None:
    """403 ``field_not_allowed`` naming the first field the caller may not change."""
    if role in ADMINS:
        return
    for key in FIELDS:
        if key not in sent:
            continue
        if key not in OWN_FIELDS:
            raise Forbidden("field_not_allowed", f"only the owner or an admin changes an agent's {key}",
                            {key: ["only the owner or an admin changes this"]})
        if caller_id != agent_id:
            raise Forbidden("field_not_allowed", f"an agent changes only their own {key}",
                            {key: ["an agent changes only their own"]})


def clean_profile_patch(sent: Any) -> dict[str, Any]:
    """A ``PATCH /v1/agents/{id}`` body checked: any of the three, at least one."""
    if not isinstance(sent, dict):
        raise InvalidCommand.field("body", "must be an object")
    for key in sent:
        if key not in FIELDS:
            raise InvalidCommand.field(echo(key), "unknown field")
    if not sent:
        raise InvalidCommand("invalid_fields", "send availability, capacity or skills",
                             {name: ["send at least one of these"] for name in FIELDS})
    clean: dict[str, Any] = {}
    if "availability" in sent:
        clean["availability"] = availability(sent["availability"])
    if "capacity" in sent:
        clean["capacity"] = capacity(sent["capacity"])
    if "skills" in sent:
        clean["skills"] = skills(sent["skills"])
    return clean


def availability(value: Any) -> str:
    if value not in AVAILABILITY:
        raise InvalidCommand.field("availability", f"must be one of {', '.join(AVAILABILITY)}")
    return value


def capacity(value: Any) -> int | None:
    """The most open tickets assigned to the agent at once; None: no limit."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= CAPACITY_MAX:
        raise InvalidCommand.field("capacity", f"must be an integer from 0 to {CAPACITY_MAX}, or null for no limit")
    return value


def skills(value: Any) -> list[str]:
    """Slugs (lowercased), each once, in the order given; at most 50."""
    if not isinstance(value, (list, tuple)):
        raise InvalidCommand.field("skills", "must be a list of slugs")
    clean: list[str] = []
    for item in value:
        slug = item.strip().lower() if isinstance(item, str) else None
        if slug is None or not SKILL.fullmatch(slug):
            raise InvalidCommand.field("skills", f"{echo(item)!r} is not a slug: lowercase letters, digits, "
                                                 "_, - and : (up to 50)")
        if slug not in clean:
            clean.append(slug)
    if len(clean) > MAX_SKILLS:
        raise InvalidCommand.field("skills", f"at most {MAX_SKILLS} skills")
    return clean


def with_defaults(stored: dict[str, Any] | None) -> dict[str, Any]:
    """The three fields of a profile, the defaults where none was ever set."""
    stored = stored or {}
    return {"availability": stored.get("availability", DEFAULTS["availability"]),
            "capacity": stored.get("capacity", DEFAULTS["capacity"]), "skills": list(stored.get("skills") or [])}


def merge(profile: dict[str, Any], clean: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(the whole profile after the change, only what changed)``."""
    current = with_defaults(profile)
    changed = {key: value for key, value in clean.items() if current[key] != value}
    return {**current, **changed}, changed
