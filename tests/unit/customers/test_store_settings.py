"""A store's customer settings (services.customers.store_settings.domain):
the defaults, the rules of each setting, and only changes as events."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from seedwork.envelope import Actor
from seedwork.errors import InvalidCommand
from services.customers.store_settings.domain import (DEFAULTS, SettingsState, UpdateSettings, clean_settings, decide,
                                                      fold)

from .streams import stored

NOW = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)
OWNER = Actor("agent", "owner-1")


def update(state, **fields):
    events = decide(state, UpdateSettings(actor=OWNER, fields=fields), NOW)
    return events, fold(stored(events, state.version, "customer-settings:st-1"), state)


def test_a_store_that_never_changed_anything_has_the_defaults():
    state = fold([], SettingsState("st-1"))
    assert (dict(state.values), state.version) == (DEFAULTS, 0)


def test_only_the_settings_that_differ_are_recorded():
    state = SettingsState("st-1")
    assert update(state, rating_channel="email", no_cod_for_flagged=False)[0] == []
    [event], state = update(state, rating_channel="sms", default_country="eg", no_cod_for_flagged=False)
    assert (event.type, event.store_id, event.actor) == ("customer_settings.updated", "st-1", OWNER)
    assert event.data == {"changes": {"rating_channel": "sms", "default_country": "EG"}}
    assert state.values == {**DEFAULTS, "rating_channel": "sms", "default_country": "EG"} and state.version == 1


def test_later_changes_lie_over_earlier_ones():
    _, state = update(SettingsState("st-1"), sms_sender_name=" MyStore ")
    _, state = update(state, sms_sender_name=None, storefront_url="https://shop.example/")
    assert (state.values["sms_sender_name"], state.values["storefront_url"], state.version) == (
        None, "https://shop.example", 2)


@pytest.mark.parametrize("name, value", [
    ("default_country", "XX"), ("sms_sender_name", "a"), ("sms_sender_name", "far too long a name"),
    ("rating_channel", "whatsapp"), ("storefront_url", "https://shop.example/?a=1"), ("no_cod_for_flagged", "yes"),
    ("colour", "red"),
])
def test_a_bad_setting_is_named(name, value):
    with pytest.raises(InvalidCommand) as refused:
        clean_settings({name: value})
    assert name in refused.value.errors
