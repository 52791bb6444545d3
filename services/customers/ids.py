"""Ids as the streams spell them. Plain Python.

Customers, groups and flags are streams named by a UUID; an id that is not
one is answered like an id that does not exist (``NotFound``), never with a
database error.
"""
from __future__ import annotations

import uuid
from typing import Any, Callable

from seedwork.errors import NotFound


def uuid_or_not_found(value: Any, not_found: Callable[[Any], NotFound]) -> str:
    """``value`` as a canonical UUID string, or ``not_found(value)`` raised."""
    try:
        return str(uuid.UUID(value))
    except (ValueError, TypeError, AttributeError):
        raise not_found(value) from None
