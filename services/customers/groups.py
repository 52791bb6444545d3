"""Customer groups: field rules. Plain Python."""
from __future__ import annotations

from typing import Any

from seedwork.errors import InvalidCommand

NAME_LIMIT = 100
# A group event names at most this many customers; a bulk action writes several.
IDS_PER_EVENT = 1000


def group_name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidCommand.field("name", "required")
    value = " ".join(value.split())
    if len(value) > NAME_LIMIT:
        raise InvalidCommand.field("name", f"at most {NAME_LIMIT} characters")
    return value


def chunks(ids: list[str], size: int = IDS_PER_EVENT):
    for start in range(0, len(ids), size):
        yield ids[start:start + size]
