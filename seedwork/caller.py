"""Who is calling: the principal the gateway resolved from a token, as every
service receives it (over RPC it travels as ``Caller.to_dict()``).

Services scope every read and write to it: its store, its kind (a store's
staff, a shopper, the platform's review team, the system itself) and its
role. Events record it as their ``actor``; idempotency keys are kept per
caller (``scope``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from .envelope import Actor

STAFF_ROLES = ("owner", "admin", "agent")
ROLES = (*STAFF_ROLES, "customer", "platform", "system")
KINDS = ("agent", "customer", "platform", "system")


@dataclass(frozen=True, slots=True)
class Caller:
    kind: str  # agent | customer | platform | system
    id: str | None
    store_id: str | None
    role: str  # owner | admin | agent | customer | platform | system

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"a caller's kind is one of {', '.join(KINDS)}, not {self.kind!r}")
        if self.role not in ROLES:
            raise ValueError(f"a caller's role is one of {', '.join(ROLES)}, not {self.role!r}")

    @classmethod
    def of(cls, value: "Caller | Mapping[str, Any]") -> "Caller":
        """The caller an RPC received (a dict), or one already typed."""
        if isinstance(value, Caller):
            return value
        try:
            return cls(value["kind"], value.get("id"), value.get("store_id"), value["role"])
        except (KeyError, TypeError, AttributeError):
            raise ValueError(f"not a caller: {value!r}") from None

    def to_dict(self) -> dict[str, Any]:
        return {"store_id": self.store_id, "kind": self.kind, "id": self.id, "role": self.role}

    @property
    def is_staff(self) -> bool:
        """One of the store's own staff: its owner, an admin or an agent."""
        return self.role in STAFF_ROLES

    @property
    def is_customer(self) -> bool:
        return self.kind == "customer"

    @property
    def is_platform(self) -> bool:
        """The platform's review team: it sees across stores, and only what it handles."""
        return self.kind == "platform"

    @property
    def actor(self) -> Actor:
        """Who its events name as their cause."""
        return Actor(self.kind, self.id)

    @property
    def scope(self) -> str:
        """What an idempotency key belongs to: the same key from two callers is two keys."""
        return f"{self.store_id}:{self.kind}:{self.id}"


PLATFORM = Caller("platform", None, None, "platform")


def system(store_id: str | None, name: str) -> Caller:
    """The system acting on its own in a store (a self-service flow's automatic reply)."""
    return Caller("system", name, store_id, "system")
