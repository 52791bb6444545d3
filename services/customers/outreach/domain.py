"""Reaching a customer: rating requests and direct messages. Plain Python.

Outreach has no state of its own. Its events are recorded on the customer's
stream (``customer.rating_requested``, ``customer.message_requested``), so
the card's version moves and its fields do not; the notifications service
sends them. ``decide`` reads the card, the store's settings and (for a
rating request) the orders waiting for a rating.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping, Sequence

from seedwork.envelope import Actor, NewEvent
from seedwork.errors import Conflict, InvalidCommand

from ..cards.domain import CustomerState
from ..cards.fields import text

CHANNELS = ("sms", "email")
MESSAGE_LIMITS = {"sms": 1000, "email": 10000}
SUBJECT_LIMIT = 200
MAX_RATING_ORDERS = 50  # orders named in one rating request


def message_fields(channel: Any, body: Any, subject: Any) -> dict:
    """A direct message to a customer: channel, body and (email) subject."""
    if channel not in CHANNELS:
        raise InvalidCommand.field("channel", f"one of {', '.join(CHANNELS)}")
    body = text("body", body, True, MESSAGE_LIMITS[channel], multiline=True)
    subject = text("subject", subject, False, SUBJECT_LIMIT)
    if channel == "sms" and subject is not None:
        raise InvalidCommand.field("subject", "an SMS has no subject")
    return {"channel": channel, "body": body, "subject": subject}


def recipient(state: CustomerState, channel: str, settings: Mapping[str, Any]) -> tuple[str, str | None]:
    """``(to, sender name)`` on ``channel``: an SMS needs the store's sender name, an email the card's address."""
    if channel == "sms":
        if not settings["sms_sender_name"]:
            raise Conflict("sms_sender_missing",
                           "the store has no SMS sender name: set sms_sender_name in /v1/settings/customers",
                           {"sms_sender_name": ["required to send SMS"]})
        return state.mobile, settings["sms_sender_name"]
    if not state.email:
        raise Conflict("no_email", "the customer has no email address", {"email": ["the card has none"]})
    return state.email, None


@dataclass(frozen=True, kw_only=True)
class RequestRating:
    actor: Actor
    request_id: str
    order_ids: Sequence[str]  # the customer's delivered, unrated orders
    settings: Mapping[str, Any]
    storefront_base_url: str  # where stores without their own storefront_url have their pages


@dataclass(frozen=True, kw_only=True)
class SendMessage:
    actor: Actor
    message_id: str
    message: Mapping[str, Any]  # message_fields' result
    settings: Mapping[str, Any]


def decide(state: CustomerState, command: RequestRating | SendMessage, now: datetime) -> list[NewEvent]:
    if isinstance(command, RequestRating):
        if not command.order_ids:
            raise Conflict("no_unrated_orders",
                           "the customer has no delivered orders waiting for a rating: every order is rated "
                           "or none was delivered yet")
        settings = command.settings
        channel = settings["rating_channel"]
        to, sender = recipient(state, channel, settings)
        base = settings["storefront_url"] or f"{command.storefront_base_url}/{state.store_id}"
        data = {"request_id": command.request_id, "customer_id": state.id, "customer_name": state.name,
                "channel": channel, "to": to, "order_ids": list(command.order_ids),
                "link": f"{base}/ratings?orders={','.join(command.order_ids)}"}
        if sender:
            data["sender_name"] = sender
        return [NewEvent("customer.rating_requested", data, command.actor, state.store_id, occurred_at=now)]
    if isinstance(command, SendMessage):
        to, sender = recipient(state, command.message["channel"], command.settings)
        data = {"message_id": command.message_id, "customer_id": state.id, "customer_name": state.name,
                "to": to, "sender_name": sender, **command.message}
        return [NewEvent("customer.message_requested", data, command.actor, state.store_id, occurred_at=now)]
    raise TypeError(f"unknown command {type(command).__name__}")
