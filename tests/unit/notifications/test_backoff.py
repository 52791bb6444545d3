"""How long a failed delivery waits before its next attempt, and when it gives
up (services.notifications.backoff). The jitter comes from ``rng``: 0.0 is the
shortest wait (-20%), 1.0 the longest (+20%), 0.5 the scheduled one."""
from __future__ import annotations

import pytest

from services.notifications.backoff import EMAIL_SCHEDULE, JITTER, WEBHOOK_SCHEDULE, next_delay
from services.notifications.config import NotificationsConfig

DEFAULTS = NotificationsConfig()

HOUR = 3600.0

SHORTEST, MIDDLE, LONGEST = (lambda: 0.0), (lambda: 0.5), (lambda: 1.0)


def total(schedule, rng) -> float:
    """The time from the first failure to giving up, with every wait drawn by ``rng``."""
    return sum(next_delay(schedule, n, rng) for n in range(1, len(schedule) + 1))


# --- the default schedules ------------------------------------------------------------------


def test_email_and_sms_retry_for_about_four_hours_as_documented():
    assert DEFAULTS.retry_schedule("email") == (10, 30, 60, 120, 300, 600, 1800, 3600, 7200)
    assert DEFAULTS.retry_schedule("sms") == DEFAULTS.retry_schedule("email")
    assert 3.5 * HOUR <= sum(EMAIL_SCHEDULE) <= 4.5 * HOUR


def test_email_waits_grow_from_ten_seconds_to_two_hours():
    assert EMAIL_SCHEDULE[0] == 10 and EMAIL_SCHEDULE[-1] == 2 * HOUR
    assert list(EMAIL_SCHEDULE) == sorted(EMAIL_SCHEDULE)


def test_webhooks_retry_for_at_least_24_hours_even_when_every_wait_is_jittered_shorter():
    """The requirement: a receiver that is down for a day still gets the event."""
    assert DEFAULTS.retry_schedule("webhook") == WEBHOOK_SCHEDULE
    assert total(WEBHOOK_SCHEDULE, SHORTEST) >= 24 * HOUR
    assert sum(WEBHOOK_SCHEDULE) >= 24 * HOUR


def test_webhook_waits_start_at_five_seconds_and_never_shrink():
    assert WEBHOOK_SCHEDULE[0] == 5 and max(WEBHOOK_SCHEDULE) == 8 * HOUR
    assert list(WEBHOOK_SCHEDULE) == sorted(WEBHOOK_SCHEDULE)


def test_a_channel_without_a_schedule_is_an_error():
    with pytest.raises(ValueError, match="'push'"):
        DEFAULTS.retry_schedule("push")


# --- jitter ------------------------------------------------------------------------------------


@pytest.mark.parametrize("schedule", [EMAIL_SCHEDULE, WEBHOOK_SCHEDULE])
def test_every_wait_is_jittered_by_at_most_twenty_percent(schedule):
    assert JITTER == 0.2
    for n, wait in enumerate(schedule, start=1):
        assert next_delay(schedule, n, SHORTEST) == pytest.approx(wait * 0.8)
        assert next_delay(schedule, n, MIDDLE) == pytest.approx(wait)
        assert next_delay(schedule, n, LONGEST) == pytest.approx(wait * 1.2)


def test_the_jitter_follows_the_random_draw_linearly():
    assert next_delay((100,), 1, lambda: 0.25) == pytest.approx(90)
    assert next_delay((100,), 1, lambda: 0.75) == pytest.approx(110)


def test_with_real_randomness_the_waits_stay_within_the_bounds():
    waits = [next_delay((100,), 1) for _ in range(500)]
    assert all(80 <= w <= 120 for w in waits)
    assert len(set(waits)) > 100  # not all the same: replicas do not retry together


def test_the_nth_failure_waits_the_nth_wait():
    schedule = (1, 2, 3)
    assert [next_delay(schedule, n, MIDDLE) for n in (1, 2, 3)] == [1, 2, 3]


# --- giving up -----------------------------------------------------------------------------------


@pytest.mark.parametrize("schedule", [EMAIL_SCHEDULE, WEBHOOK_SCHEDULE])
def test_after_the_last_wait_the_delivery_gives_up(schedule):
    assert next_delay(schedule, len(schedule), LONGEST) is not None
    assert next_delay(schedule, len(schedule) + 1, LONGEST) is None
    assert next_delay(schedule, len(schedule) + 50, SHORTEST) is None


@pytest.mark.parametrize("attempts_done", [0, -1])
def test_next_delay_is_asked_only_after_a_failed_attempt(attempts_done):
    with pytest.raises(ValueError):
        next_delay(EMAIL_SCHEDULE, attempts_done)


def test_a_schedule_from_the_environment_gives_up_after_its_own_last_wait():
    schedule = NotificationsConfig.from_env({"NOTIFY_RETRY_SCHEDULE": "1,2"}).retry_schedule("email")
    assert next_delay(schedule, 2, MIDDLE) == 2
    assert next_delay(schedule, 3, MIDDLE) is None
