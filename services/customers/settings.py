"""Per-store settings of the customers module, with their defaults. Plain Python."""
from __future__ import annotations

import re
from typing import Any, Mapping

import phonenumbers

from seedwork.errors import InvalidCommand

DEFAULTS = {
    # The country of mobiles typed without a country code.
    "default_country": "SA",
    # SMS goes out under this sender name; without one a store cannot send SMS.
    "sms_sender_name": None,
    # The channel rating requests go out on (seeds/001: the one the merchant set up).
    "rating_channel": "email",
    # Where the shopper's "rate your orders" page lives; see README for the fallback.
    "storefront_url": None,
    # "No cash on delivery for flagged customers" (seeds/001).
    "no_cod_for_flagged": False,
}
SENDER = re.compile(r"^[A-Za-z0-9 .&-]{2,11}\Z")  # what SMS gateways accept as an alphanumeric sender


def clean_settings(fields: Mapping[str, Any]) -> dict:
    changes = {}
    for name, value in fields.items():
        if name not in DEFAULTS:
            raise InvalidCommand.field(name, "not a setting")
        if name == "default_country":
            if not isinstance(value, str) or value.upper() not in phonenumbers.SUPPORTED_REGIONS:
                raise InvalidCommand.field(name, "an ISO 3166 country code like SA")
            value = value.upper()
        elif name == "sms_sender_name":
            if value is not None and (not isinstance(value, str) or not SENDER.match(value.strip())):
                raise InvalidCommand.field(name, "2 to 11 letters, digits, spaces or . & -")
            value = value.strip() if value else None
        elif name == "rating_channel":
            if value not in ("sms", "email"):
                raise InvalidCommand.field(name, "sms or email")
        elif name == "storefront_url":
            if value is not None and (not isinstance(value, str) or len(value) > 500
                                      or not re.match(r"^https?://[^\s?#]+\Z", value)):
                raise InvalidCommand.field(name, "an http or https URL without query")
            value = value.rstrip("/") if value else None
        elif name == "no_cod_for_flagged":
            if not isinstance(value, bool):
                raise InvalidCommand.field(name, "true or false")
        changes[name] = value
    return changes
