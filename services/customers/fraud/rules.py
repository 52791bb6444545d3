"""Fraud rules: when the platform flags a shopper as a non-serious buyer.

Plain Python, no database: the fraud watch (``watch.py``) turns events into
``Evidence`` rows (``classify``), loads the shopper's fresh evidence and active
flags, and asks ``evaluate`` which rules now fire. The rules are
configuration (``FRAUD_RULES``, JSON), checked once at start-up by
``load_rules`` (``config.py``).
"""
from __future__ import annotations

import json
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from seedwork.instants import iso

EVIDENCE_KINDS = ("blocked_non_serious", "cod_refused_or_returned", "charged_without_order_claim")
FLAG_CODE = "non_serious_buyer"
DISTINCT_BY = ("store", "ref")

DEFAULT_DESCRIPTIONS = {
    "blocked_non_serious": "blocked for non-serious orders by {count} stores",
    "cod_refused_or_returned": "{count} cash-on-delivery orders refused or returned",
    "charged_without_order_claim": "{count} claims of being charged without an order",
}


@dataclass(frozen=True)
class Rule:
    code: str
    evidence: str
    threshold: int
    distinct: str
    window_days: int | None
    description: str


@dataclass(frozen=True)
class Evidence:
    kind: str
    store_id: str
    customer_id: str
    ref: str  # the customer id, order id or ticket id the evidence came from
    at: datetime

    def __post_init__(self):
        # Windows compare against an aware "now": a naive time would fail later, far from its cause.
        if self.at.tzinfo is None or self.at.utcoffset() is None:
            raise ValueError("Evidence.at must be timezone-aware")


@dataclass(frozen=True)
class Decision:
    rule: Rule
    evidence: tuple[Evidence, ...]  # all the fresh evidence the rule counted, oldest first


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule("blocked_by_stores", "blocked_non_serious", 2, "store", None,
         DEFAULT_DESCRIPTIONS["blocked_non_serious"]),
    Rule("cod_refusals", "cod_refused_or_returned", 3, "ref", 180,
         DEFAULT_DESCRIPTIONS["cod_refused_or_returned"]),
    Rule("charged_without_order_claims", "charged_without_order_claim", 3, "ref", 90,
         DEFAULT_DESCRIPTIONS["charged_without_order_claim"]),
)

# --- configuration -------------------------------------------------------------------------

_CODE = re.compile(r"[a-z][a-z0-9_]{0,63}")
_KEYS = {"code", "evidence", "threshold", "distinct", "window_days", "description"}


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _rule(index: int, raw) -> Rule:
    def bad(field: str, message: str) -> ValueError:
        return ValueError(f"FRAUD_RULES[{index}].{field}: {message}" if field else f"FRAUD_RULES[{index}]: {message}")

    if not isinstance(raw, dict):
        raise bad("", "must be an object")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:  # a misspelt key would otherwise fall back to a default unnoticed
        raise bad(unknown[0], f"unknown key (expected {', '.join(sorted(_KEYS))})")
    code, evidence, distinct = raw.get("code"), raw.get("evidence"), raw.get("distinct")
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        raise bad("code", "must be lowercase letters, digits and _, starting with a letter (max 64)")
    if evidence not in EVIDENCE_KINDS:
        raise bad("evidence", f"must be one of {', '.join(EVIDENCE_KINDS)}")
    if not _positive_int(raw.get("threshold")):
        raise bad("threshold", "must be an integer >= 1")
    if distinct not in DISTINCT_BY:
        raise bad("distinct", f"must be one of {', '.join(DISTINCT_BY)}")
    window_days = raw.get("window_days")
    if window_days is not None and not _positive_int(window_days):
        raise bad("window_days", "must be null or an integer >= 1")
    description = raw.get("description", DEFAULT_DESCRIPTIONS[evidence])
    if not isinstance(description, str) or not description.strip():
        raise bad("description", "must be a non-empty string")
    try:
        description.format(count=1)
    except (KeyError, IndexError, ValueError, TypeError, AttributeError):
        raise bad("description", "may use only the placeholder {count}") from None
    return Rule(code, evidence, raw["threshold"], distinct, window_days, description)


def load_rules(raw: str | None) -> tuple[Rule, ...]:
    """The rules from ``FRAUD_RULES`` (JSON); unset or empty means the defaults.

    ``[]`` is honoured: no rules, no flags.
    """
    if raw is None or not raw.strip():
        return DEFAULT_RULES
    try:
        items = json.loads(raw)
    except ValueError as error:
        raise ValueError(f"FRAUD_RULES: not valid JSON ({error})") from None
    if not isinstance(items, list):
        raise ValueError("FRAUD_RULES: must be a JSON list of rule objects")
    rules, seen = [], set()
    for index, item in enumerate(items):
        rule = _rule(index, item)
        if rule.code in seen:
            raise ValueError(f"FRAUD_RULES[{index}].code: duplicate code {rule.code!r}")
        seen.add(rule.code)
        rules.append(rule)
    return tuple(rules)


# --- evidence and decisions ----------------------------------------------------------------


def classify(event_type: str, data: dict) -> tuple[str, str] | None:
    """``(kind, ref)`` when the event is evidence against a shopper, else ``None``."""
    if event_type == "customer.blocked" and data.get("reason") == "non_serious_orders":
        return "blocked_non_serious", data["customer_id"]
    if (event_type == "order.recorded" and data.get("payment_method") == "cod"
            and data.get("status") in ("refused", "returned")):
        return "cod_refused_or_returned", data["order_id"]
    if event_type == "ticket.opened" and data.get("type") == "charged_without_order":
        return "charged_without_order_claim", data["ticket_id"]
    return None


def _count(rule: Rule, evidence: Sequence[Evidence]) -> int:
    """Distinct stores, or distinct references: one store blocking twice counts once."""
    if rule.distinct == "store":
        return len({e.store_id for e in evidence})
    return len({(e.store_id, e.ref) for e in evidence})  # ids are only unique within a store


def evaluate(rules: Sequence[Rule], fresh: Sequence[Evidence], active_rules: Collection[str],
             now: datetime) -> list[Decision]:
    """The rules that fire on this shopper's fresh (unspent) evidence.

    A rule that already has an active flag for the shopper is skipped: its
    evidence keeps accumulating until the flag is cleared.
    """
    decisions = []
    for rule in rules:
        if rule.code in active_rules:
            continue
        since = None if rule.window_days is None else now - timedelta(days=rule.window_days)
        counted = sorted((e for e in fresh if e.kind == rule.evidence and (since is None or e.at >= since)),
                         key=lambda e: (e.at, e.store_id, e.ref))
        if _count(rule, counted) >= rule.threshold:
            decisions.append(Decision(rule, tuple(counted)))
    return decisions


def store_safe_reason(decision: Decision) -> dict:
    """What every store may see: the rule and a count, never another store's ids."""
    count = _count(decision.rule, decision.evidence)
    return {"rule": decision.rule.code, "count": count, "description": decision.rule.description.format(count=count)}


def full_evidence(decision: Decision) -> list[dict]:
    """The evidence as the platform sees it (``shopper.flagged``), with every id."""
    return [{"kind": e.kind, "store_id": e.store_id, "customer_id": e.customer_id, "ref": e.ref, "at": iso(e.at)}
            for e in decision.evidence]
