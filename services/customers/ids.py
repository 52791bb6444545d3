"""Ids as the streams spell them. Plain Python.

Customers, groups and flags are streams named by a UUID; an id that is not
one is answered like an id that does not exist (``NotFound``), never with a
database error.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from seedwork.errors import NotFound


@dataclass(frozen=True)
class StreamIds:
    """The ids of one kind of stream: ``StreamIds("group")`` refuses with ``group_not_found``."""

    noun: str

    def not_found(self, value: Any) -> NotFound:
        return NotFound(f"{self.noun}_not_found", f"no {self.noun} {value}")

    def of(self, value: Any) -> str:
        """``value`` as a canonical UUID string; anything else is a stream that does not exist."""
        try:
            return str(uuid.UUID(value))
        except (ValueError, TypeError, AttributeError):
            raise self.not_found(value) from None
