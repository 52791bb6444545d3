"""Category rules: what a store's admins decide about every new ticket ("a
VIP customer's ticket is high priority and goes to the VIP team", "a ticket
on the Payments topic goes to Billing", "a body saying 'ربح سريع' is spam"),
and what they do to a ticket as it opens (docs/agent-operations/rules.md).

Plain Python. ``clean_rule`` checks what an admin sends (422 naming the
field's path, ``conditions.all[0].op``); ``apply(rules, facts)`` says what the
rules change on a ticket and which rule changed it; ``command_for`` and
``attributed`` turn one change into the ticket's own events through
``decide``; ``fold`` is a rule as its stream (``rule:{id}``) says. The stream
and the table are ``services/tickets/rules.py``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from seedwork.envelope import Actor, NewEvent
from seedwork.errors import InvalidCommand
from seedwork.text import fold_text

from . import fields
from .commands import AddTag, Assign, Command, SetPriority
from .fields import echo
from .ticket import TicketState

# Who the events of a rule's actions name: the rule itself is in their data.
ACTOR = Actor("system", "rules")

NAME_MAX, VALUE_MAX, POSITION_MAX = 100, 200, 10_000
MAX_RULES, MAX_CONDITIONS, MAX_VALUES, MAX_ADD_TAGS = 100, 20, 50, 10
FIELDS = ("name", "position", "enabled", "conditions", "actions")
EVENT_TYPES = ("rule.created", "rule.updated", "rule.deleted")

# What a condition may ask of a ticket, and how.
SCALARS = ("type", "topic_id", "team_id", "channel", "priority")  # one value each
SETS = ("tag", "customer_group")  # the ticket's tags; its customer's groups (by id)
TEXTS = ("subject", "body")  # the opening message's body
CONDITION_FIELDS = SCALARS + SETS + TEXTS
OPS = ("is", "is_not", "in", "contains")
OPS_OF = {**{f: ("is", "is_not", "in") for f in SCALARS + SETS}, **{f: ("contains",) for f in TEXTS}}
CONDITION_KEYS = ("field", "op", "value")
ACTIONS = ("priority", "team_id", "add_tags")
# Ids a rule names that must be the store's (the service layer looks them up).
REFERENCES = {"topic_id": "topic", "team_id": "team"}


# --- what an admin may save -----------------------------------------------------------------


def clean_rule(sent: Any, partial: bool = False) -> dict[str, Any]:
    """A rule's fields checked; with ``partial`` (a PATCH) only the keys sent,
    at least one; ``conditions`` and ``actions`` are replaced whole. A missing
    ``position`` is the service layer's to give (after the store's last rule);
    that the teams and topics named are the store's is its check too
    (``references``)."""
    if not isinstance(sent, dict):
        raise InvalidCommand.field("body", "must be an object")
    for key in sent:
        if key not in FIELDS:
            raise InvalidCommand.field(echo(key), "unknown field")
    if partial and not sent:
        raise InvalidCommand("invalid_fields", "send at least one of " + ", ".join(FIELDS),
                             {name: ["send at least one of these"] for name in FIELDS})
    clean: dict[str, Any] = {}
    if "name" in sent or not partial:
        clean["name"] = _name(sent.get("name"))
    if "position" in sent and (partial or sent["position"] is not None):
        clean["position"] = position(sent["position"])
    if "enabled" in sent:
        if not isinstance(sent["enabled"], bool):
            raise InvalidCommand.field("enabled", "must be true or false")
        clean["enabled"] = sent["enabled"]
    elif not partial:
        clean["enabled"] = True
    if "conditions" in sent or not partial:
        clean["conditions"] = _conditions(sent.get("conditions"))
    if "actions" in sent or not partial:
        clean["actions"] = _actions(sent.get("actions"))
    return clean


def _name(value: Any) -> str:
    name = fields.text(value, "name", NAME_MAX)
    if "\n" in name or "\r" in name:  # one line in every list and in the ticket's history
        raise InvalidCommand.field("name", "must be one line")
    return name


def position(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= POSITION_MAX:
        raise InvalidCommand.field("position", f"must be an integer from 0 to {POSITION_MAX}")
    return value


def next_position(highest: int | None) -> int:
    """Where a rule sent without a position goes: after the store's last one."""
    return 0 if highest is None else min(highest + 1, POSITION_MAX)


def _conditions(value: Any) -> dict[str, list]:
    if not isinstance(value, dict):
        raise InvalidCommand.field("conditions", 'must be an object: {"all": [{"field", "op", "value"}, ...]}')
    for key in value:
        if key != "all":
            raise InvalidCommand.field(f"conditions.{echo(key)}", "unknown key: conditions has all")
    items = value.get("all")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_CONDITIONS:
        raise InvalidCommand.field("conditions.all", f"must be a list of 1 to {MAX_CONDITIONS} conditions, "
                                                     "all of which a ticket meets")
    return {"all": [_condition(c, f"conditions.all[{n}]") for n, c in enumerate(items)]}


def _condition(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidCommand.field(path, "must be an object {field, op, value}")
    for key in value:
        if key not in CONDITION_KEYS:
            raise InvalidCommand.field(f"{path}.{echo(key)}", "unknown key: a condition has field, op and value")
    field = value.get("field")
    if field not in CONDITION_FIELDS:
        raise InvalidCommand.field(f"{path}.field", f"must be one of {', '.join(CONDITION_FIELDS)}")
    op = value.get("op")
    if op not in OPS_OF[field]:
        raise InvalidCommand.field(f"{path}.op", f"{field} takes {' or '.join(OPS_OF[field])}")
    if "value" not in value:
        raise InvalidCommand.field(f"{path}.value", "missing")
    return {"field": field, "op": op, "value": _value(field, op, value["value"], f"{path}.value")}


def _value(field: str, op: str, value: Any, path: str) -> Any:
    """One value (``is``, ``is_not``), a list of them (``in``), or a text or a
    list of texts any of which the subject or body contains (``contains``)."""
    one = _text if op == "contains" else _one
    if op != "in" and not (op == "contains" and isinstance(value, list)):
        return one(field, value, path)
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_VALUES:
        raise InvalidCommand.field(path, f"must be a list of 1 to {MAX_VALUES} values")
    values = [one(field, v, f"{path}[{n}]") for n, v in enumerate(value)]
    return list(dict.fromkeys(values))  # each once, in the order given


def _one(field: str, value: Any, path: str) -> str:
    check: Callable[[Any], str] = _CHECKS.get(field, lambda v: fields.identifier(v, field))
    try:
        return check(value)
    except InvalidCommand as error:
        raise _at(path, error) from None


def _text(field: str, value: Any, path: str) -> str:
    text = fields.text(value, path, VALUE_MAX)
    if not fold_text(text):
        raise InvalidCommand.field(path, "must contain a letter or a digit")
    return text


def _at(path: str, error: InvalidCommand) -> InvalidCommand:
    """A field check's refusal, renamed to where the value is in the rule."""
    messages = [m for ms in error.errors.values() for m in ms] or [error.detail]
    return InvalidCommand.field(path, messages[0])


_CHECKS: dict[str, Callable[[Any], str]] = {
    "type": lambda v: fields.ticket_type(v, reserved_ok=True),
    "channel": fields.channel,
    "priority": fields.priority,
    "tag": fields.tag,
}


def _actions(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidCommand.field("actions", "must be an object with priority, team_id and/or add_tags")
    for key in value:
        if key not in ACTIONS:
            raise InvalidCommand.field(f"actions.{echo(key)}", f"unknown action: one of {', '.join(ACTIONS)}")
    if not value:
        raise InvalidCommand.field("actions", "give at least one of " + ", ".join(ACTIONS))
    clean: dict[str, Any] = {}
    if "priority" in value:
        clean["priority"] = _one("priority", value["priority"], "actions.priority")
    if "team_id" in value:
        clean["team_id"] = _one("team_id", value["team_id"], "actions.team_id")
    if "add_tags" in value:
        tags = value["add_tags"]
        if not isinstance(tags, list) or not 1 <= len(tags) <= MAX_ADD_TAGS:
            raise InvalidCommand.field("actions.add_tags", f"must be a list of 1 to {MAX_ADD_TAGS} tags")
        clean["add_tags"] = list(dict.fromkeys(_one("tag", t, f"actions.add_tags[{n}]") for n, t in enumerate(tags)))
    return clean


def references(rule: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """``(path, kind, id)`` of every team and topic the rule names (``kind``
    ``team`` or ``topic``): each must be the store's (422 naming ``path``)."""
    found = []
    for n, condition in enumerate(rule["conditions"]["all"]):
        kind = REFERENCES.get(condition["field"])
        if kind is None:
            continue
        path, value = f"conditions.all[{n}].value", condition["value"]
        if isinstance(value, list):
            found += [(f"{path}[{i}]", kind, v) for i, v in enumerate(value)]
        else:
            found.append((path, kind, value))
    if "team_id" in rule["actions"]:
        found.append(("actions.team_id", "team", rule["actions"]["team_id"]))
    return found


def merge(rule: Mapping[str, Any], clean: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(fields after a PATCH, what changed)``."""
    merged = {key: clean.get(key, rule[key]) for key in FIELDS}
    return merged, {key: merged[key] for key in FIELDS if merged[key] != rule[key]}


# --- what the rules do to a ticket as it opens ---------------------------------------------------


@dataclass(frozen=True)
class Facts:
    """What conditions read of a ticket. ``subject`` and ``body`` are folded
    (``seedwork.text.fold_text``) once, however many rules read them."""

    type: str
    topic_id: str | None
    team_id: str | None
    channel: str
    priority: str
    tags: tuple[str, ...]
    customer_groups: tuple[str, ...]
    subject: str
    body: str


def facts_of(state: TicketState, customer_groups: Iterable[str] = ()) -> Facts:
    """The ticket as its opening left it; ``customer_groups``: the ids of its customer's groups."""
    body = state.messages[0].body if state.messages else ""
    return Facts(type=state.type, topic_id=state.topic_id, team_id=state.team, channel=state.channel,
                 priority=state.priority, tags=tuple(state.tags), customer_groups=tuple(customer_groups),
                 subject=fold_text(state.subject), body=fold_text(body))


@dataclass(frozen=True)
class Change:
    """One action of one rule that changes the ticket: ``action`` is
    ``priority``, ``team`` or ``tag``."""

    rule_id: str
    rule_name: str
    action: str
    value: str


def apply(rule_list: Iterable[Mapping[str, Any]], facts: Facts) -> list[Change]:
    """What the enabled rules change on the ticket, in order: by ``position``,
    then in the order given (the service lists ties oldest first). Each rule
    is checked against the ticket as the rules before it left it, so a later
    rule sees an earlier one's priority, team and tags. An action that asks
    for what already is changes nothing and is not listed; nor is a tag past
    the ticket's limit (a rule never makes opening a ticket fail)."""
    changes: list[Change] = []
    for rule in sorted(rule_list, key=lambda r: r["position"]):
        if not rule["enabled"] or not matches(rule["conditions"], facts):
            continue
        for action, value in _wanted(rule["actions"]):
            after = _effect(facts, action, value)
            if after is not None:
                facts = after
                changes.append(Change(rule["id"], rule["name"], action, value))
    return changes


def matches(conditions: Mapping[str, Any], facts: Facts) -> bool:
    """Whether the ticket meets every condition."""
    return all(_holds(c["field"], c["op"], c["value"], facts) for c in conditions["all"])


def _holds(field: str, op: str, value: Any, facts: Facts) -> bool:
    if field in TEXTS:
        text = getattr(facts, field)
        return any(fold_text(v) in text for v in (value if isinstance(value, list) else [value]))
    if field in SETS:
        have = facts.tags if field == "tag" else facts.customer_groups
        if op == "in":
            return any(v in have for v in value)
        return (value in have) == (op == "is")
    actual = getattr(facts, field)
    if op == "in":
        return actual in value
    return (actual == value) == (op == "is")


def _wanted(actions: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A rule's actions in the order they apply: priority, team, tags."""
    wanted = []
    if "priority" in actions:
        wanted.append(("priority", actions["priority"]))
    if "team_id" in actions:
        wanted.append(("team", actions["team_id"]))
    return wanted + [("tag", tag) for tag in actions.get("add_tags", ())]


def _effect(facts: Facts, action: str, value: str) -> Facts | None:
    """The ticket after one action, or None when it changes nothing."""
    if action == "priority":
        return None if facts.priority == value else dataclasses.replace(facts, priority=value)
    if action == "team":
        return None if facts.team_id == value else dataclasses.replace(facts, team_id=value)
    if value in facts.tags or len(facts.tags) >= fields.MAX_TAGS:
        return None
    return dataclasses.replace(facts, tags=facts.tags + (value,))


def command_for(change: Change) -> Command:
    """The ordinary ticket command that does ``change``, by the rules' actor."""
    if change.action == "priority":
        return SetPriority(actor=ACTOR, priority=change.value)
    if change.action == "team":
        return Assign(actor=ACTOR, team=change.value)  # the assignee stays as it is
    return AddTag(actor=ACTOR, tag=change.value)


def attributed(events: Iterable[NewEvent], change: Change) -> list[NewEvent]:
    """``decide``'s events for ``change``, naming the rule that did it."""
    return [dataclasses.replace(e, data={**e.data, "rule_id": change.rule_id, "rule_name": change.rule_name})
            for e in events]


def needs_groups(rule_list: Iterable[Mapping[str, Any]]) -> bool:
    """Whether any rule asks about the customer's groups (else nobody looks them up)."""
    return any(c["field"] == "customer_group" for r in rule_list for c in r["conditions"]["all"])


# --- the rule as the fold of its events -----------------------------------------------------------


def evolve(rule: dict[str, Any] | None, event: Any) -> dict[str, Any] | None:
    """The rule after one stored event (None once deleted)."""
    d = event.data
    if event.type == "rule.created":
        if rule is not None:
            raise ValueError(f"rule {rule['id']} is already created")
        return {"id": d["rule_id"], "store_id": event.store_id, **{k: d[k] for k in FIELDS},
                "version": event.version, "created_at": event.occurred_at, "updated_at": event.occurred_at}
    if event.type not in EVENT_TYPES:
        raise ValueError(f"unknown rule event type {event.type!r}")
    if rule is None:
        raise ValueError(f"{event.type} of a rule that does not exist")
    if event.type == "rule.deleted":
        return None
    return {**rule, **{k: d[k] for k in FIELDS if k in d}, "version": event.version, "updated_at": event.occurred_at}


def fold(events: Iterable[Any], rule: dict[str, Any] | None = None) -> dict[str, Any] | None:
    for event in events:
        rule = evolve(rule, event)
    return rule
