"""Canned responses: the store's saved replies and their placeholders
(docs/self-service.md, "The conversation"). Plain Python; the stream and
table are ``services/tickets/canned_responses.py``.

A placeholder is checked twice: its name when the response is saved, and its
value when an agent sends it. A reply saying "your order  is on its way"
would be worse than a refusal, so a placeholder with no value on the ticket
refuses the send instead of rendering empty (unlike the self-service texts).
"""
from __future__ import annotations

from typing import Any

from seedwork.errors import InvalidCommand

from . import fields
from .templates import placeholders, render

PLACEHOLDERS = ("customer_name", "order_id", "ticket_number", "store_name", "agent_name")
TITLE_MAX, BODY_MAX = 100, 5000
FIELDS = ("title", "body")


def clean_canned(sent: dict, partial: bool = False) -> dict:
    """``{title, body}`` checked; with ``partial`` (a PATCH) only the keys sent, at least one."""
    if not isinstance(sent, dict):
        raise InvalidCommand.field("body", "must be an object with title and body")
    for key in sent:
        if key not in FIELDS:
            raise InvalidCommand.field(fields.echo(key), "unknown field")
    if partial and not sent:
        raise InvalidCommand("invalid_fields", "send title, body or both",
                             {name: ["send title, body or both"] for name in FIELDS})
    clean = {}
    if "title" in sent or not partial:
        clean["title"] = _title(sent.get("title"))
    if "body" in sent or not partial:
        clean["body"] = _body(sent.get("body"))
    return clean


def _title(value: Any) -> str:
    title = fields.text(value, "title", TITLE_MAX)
    if "\n" in title or "\r" in title:  # a title is one line in every list that shows it
        raise InvalidCommand.field("title", "must be one line")
    return title


def _body(value: Any) -> str:
    body = fields.text(value, "body", BODY_MAX)
    try:
        unknown = sorted(placeholders(body) - set(PLACEHOLDERS))
    except ValueError as error:
        raise InvalidCommand.field("body", str(error)) from None
    if unknown:
        raise InvalidCommand.field("body", f"unknown placeholder {{{unknown[0]}}}; use one of "
                                           f"{', '.join('{' + name + '}' for name in PLACEHOLDERS)}")
    return body


def render_canned(body: str, values: dict[str, object]) -> str:
    """``body`` filled from the ticket's ``values``; every placeholder it uses
    must have one (422 ``placeholder_unavailable`` naming ``canned_response_id``)."""
    used = placeholders(body)  # a saved body was checked, so this does not raise
    missing = [name for name in PLACEHOLDERS if name in used and _blank(values.get(name))]
    if missing:
        messages = [f"{{{name}}} has no value on this ticket" for name in missing]
        raise InvalidCommand("placeholder_unavailable", "; ".join(messages), {"canned_response_id": messages})
    return render(body, values)


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())
