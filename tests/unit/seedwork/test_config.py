"""Settings from environment variables (seedwork.config)."""
from __future__ import annotations

import dataclasses

import pytest

from seedwork.config import DEFAULT_AMQP_URI, DEFAULT_DATABASE_URL, Settings, checked_name, load


def test_defaults_work_on_a_developer_machine():
    settings = load("tickets", env={})
    assert settings == Settings(
        service="tickets",
        database_url="postgresql://postgres@127.0.0.1:5432/seed",
        schema="tickets",
        amqp_uri="amqp://guest:guest@127.0.0.1:5672/",
        bus_prefix="seed",
        relay_poll_interval=0.02,
        relay_batch_size=500,
        retry_delays=(1.0, 10.0, 60.0),
    )
    assert settings.database_url == DEFAULT_DATABASE_URL and settings.amqp_uri == DEFAULT_AMQP_URI


def test_explicit_env_is_used_instead_of_the_process_environment(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://from-process/db")
    monkeypatch.setenv("BUS_PREFIX", "other")
    settings = load("tickets", env={})
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.bus_prefix == "seed"


def test_process_environment_is_read_by_default(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://from-process/db")
    monkeypatch.delenv("TICKETS_DATABASE_URL", raising=False)
    assert load("tickets").database_url == "postgresql://from-process/db"


def test_shared_database_url():
    assert load("tickets", env={"DATABASE_URL": "postgresql://db/shared"}).database_url == "postgresql://db/shared"


def test_per_service_database_url_wins_over_the_shared_one():
    env = {"DATABASE_URL": "postgresql://db/shared", "TICKETS_DATABASE_URL": "postgresql://db/tickets"}
    assert load("tickets", env=env).database_url == "postgresql://db/tickets"
    # ...only for its own service
    assert load("customers", env=env).database_url == "postgresql://db/shared"


def test_empty_per_service_database_url_falls_back():
    env = {"DATABASE_URL": "postgresql://db/shared", "TICKETS_DATABASE_URL": ""}
    assert load("tickets", env=env).database_url == "postgresql://db/shared"


def test_schema_defaults_to_the_service_and_can_be_overridden():
    assert load("customers", env={}).schema == "customers"
    assert load("customers", env={"CUSTOMERS_DB_SCHEMA": "crm_v2"}).schema == "crm_v2"
    assert load("tickets", env={"CUSTOMERS_DB_SCHEMA": "crm_v2"}).schema == "tickets"


def test_amqp_uri_override_and_empty_fallback():
    assert load("tickets", env={"AMQP_URI": "amqp://u:p@rabbit:5672/v"}).amqp_uri == "amqp://u:p@rabbit:5672/v"
    assert load("tickets", env={"AMQP_URI": ""}).amqp_uri == DEFAULT_AMQP_URI


def test_exchange_is_prefix_dot_service():
    assert load("tickets", env={}).exchange == "seed.tickets"
    assert load("notifications", env={"BUS_PREFIX": "staging"}).exchange == "staging.notifications"


def test_settings_are_immutable():
    settings = load("tickets", env={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.schema = "other"  # type: ignore[misc]


# --- names that end up in SQL and AMQP ----------------------------------------------

UNSAFE = [
    "x; drop",
    "tickets; DROP SCHEMA tickets CASCADE",
    "tickets--",
    "public.events",
    "Tickets",
    "1tickets",
    "_tickets",
    "tick-ets",
    "tick ets",
    '"tickets"',
    "",
    "a" * 42,
]


@pytest.mark.parametrize("value", UNSAFE)
def test_unsafe_service_name_is_refused(value):
    with pytest.raises(ValueError, match="service name"):
        load(value, env={})


@pytest.mark.parametrize("value", UNSAFE)
def test_unsafe_schema_override_is_refused(value):
    with pytest.raises(ValueError) as info:
        load("tickets", env={"TICKETS_DB_SCHEMA": value})
    assert "schema" in str(info.value)
    assert repr(value) in str(info.value)


def test_unsafe_schema_override_error_names_the_variable():
    with pytest.raises(ValueError, match="TICKETS_DB_SCHEMA"):
        load("tickets", env={"TICKETS_DB_SCHEMA": "x; drop"})


@pytest.mark.parametrize("value", UNSAFE + ["seed.prod"])
def test_unsafe_bus_prefix_is_refused_naming_the_variable(value):
    with pytest.raises(ValueError, match="BUS_PREFIX"):
        load("tickets", env={"BUS_PREFIX": value})


@pytest.mark.parametrize("value", ["t", "tickets", "tickets_v2", "a1", "a" * 41])
def test_checked_name_accepts_safe_names(value):
    assert checked_name(value, "schema") == value


def test_checked_name_message_names_what_was_checked():
    with pytest.raises(ValueError, match=r"^my thing 'x; drop' must match"):
        checked_name("x; drop", "my thing")


@pytest.mark.parametrize("value", ["tickets\n"])
def test_checked_name_refuses_a_trailing_newline(value):
    with pytest.raises(ValueError):
        checked_name(value, "schema")


# --- numbers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("1,10,60", (1.0, 10.0, 60.0)),
        ("0.5, 5 ,30", (0.5, 5.0, 30.0)),
        ("2", (2.0,)),
        ("1,2,", (1.0, 2.0)),
    ],
)
def test_consumer_retry_delays(raw, expected):
    assert load("tickets", env={"CONSUMER_RETRY_DELAYS": raw}).retry_delays == expected


@pytest.mark.parametrize("raw", ["1,ten,60", "1;10", "fast"])
def test_bad_consumer_retry_delays_name_the_variable_and_value(raw):
    with pytest.raises(ValueError, match="CONSUMER_RETRY_DELAYS") as info:
        load("tickets", env={"CONSUMER_RETRY_DELAYS": raw})
    assert repr(raw) in str(info.value)


def test_relay_numbers():
    settings = load("tickets", env={"RELAY_POLL_INTERVAL": "0.5", "RELAY_BATCH_SIZE": "200"})
    assert settings.relay_poll_interval == 0.5
    assert settings.relay_batch_size == 200 and isinstance(settings.relay_batch_size, int)


def test_empty_relay_numbers_use_the_defaults():
    settings = load("tickets", env={"RELAY_POLL_INTERVAL": "", "RELAY_BATCH_SIZE": ""})
    assert (settings.relay_poll_interval, settings.relay_batch_size) == (0.02, 500)


@pytest.mark.parametrize("key", ["RELAY_POLL_INTERVAL", "RELAY_BATCH_SIZE"])
def test_bad_relay_number_names_the_variable(key):
    with pytest.raises(ValueError, match=key):
        load("tickets", env={key: "soon"})


@pytest.mark.parametrize("raw", ["", ",", "0", "1,-5", "nan", "1,inf"])
def test_retry_delays_must_be_positive_finite_seconds(raw):
    with pytest.raises(ValueError, match="CONSUMER_RETRY_DELAYS"):
        load("tickets", env={"CONSUMER_RETRY_DELAYS": raw})


@pytest.mark.parametrize("key, raw", [
    ("RELAY_BATCH_SIZE", "0"), ("RELAY_BATCH_SIZE", "-3"), ("RELAY_BATCH_SIZE", "2.5"),
    ("RELAY_POLL_INTERVAL", "0"), ("RELAY_POLL_INTERVAL", "nan"), ("RELAY_POLL_INTERVAL", "inf"),
])
def test_relay_numbers_must_be_positive(key, raw):
    with pytest.raises(ValueError, match=key):
        load("tickets", env={key: raw})
