"""The notifications service's settings (services.notifications.config):
every variable it reads, what each defaults to, and the values that stop
the service at start, naming the variable."""
from __future__ import annotations

import pytest

from services.notifications.backoff import EMAIL_SCHEDULE, WEBHOOK_SCHEDULE
from services.notifications.config import NotificationsConfig, Smtp, Sms

DEFAULTS = NotificationsConfig()


def test_with_nothing_set_every_setting_has_its_documented_default():
    config = NotificationsConfig.from_env({})
    assert config == DEFAULTS
    assert config.smtp == Smtp("127.0.0.1", 2525, None, None, "none")  # the development sink
    assert config.sms == Sms("log", None, "")
    assert (config.mail_from, config.mail_domain, config.reply_domain) == (
        "no-reply@seed.local", "seed.local", "reply.seed.local")
    assert (config.retry_schedule("email"), config.retry_schedule("sms")) == (EMAIL_SCHEDULE, EMAIL_SCHEDULE)
    assert config.retry_schedule("webhook") == WEBHOOK_SCHEDULE
    assert config.allow_private_targets is False
    assert (config.default_quota("email"), config.default_quota("sms")) == (500, 100)


def test_the_environment_is_read_when_nothing_is_passed(monkeypatch):
    monkeypatch.setenv("MAIL_DOMAIN", "mail.shop.test")
    assert NotificationsConfig.from_env().mail_domain == "mail.shop.test"


# --- SMTP ----------------------------------------------------------------------------------------


def test_the_sinks_port_comes_from_smtp_sink_port():
    assert NotificationsConfig.from_env({"SMTP_SINK_PORT": "2600", "SMTP_HOST": "  "}).smtp == Smtp(port=2600)


def test_a_real_smtp_server_defaults_to_port_587_and_starttls():
    assert NotificationsConfig.from_env({"SMTP_HOST": "smtp.example.test"}).smtp == Smtp(
        "smtp.example.test", 587, None, None, "starttls")


def test_every_smtp_setting_is_read():
    config = NotificationsConfig.from_env({"SMTP_HOST": "smtp.example.test", "SMTP_PORT": "465",
                                           "SMTP_USER": "mailer", "SMTP_PASSWORD": "s3cret", "SMTP_TLS": " SSL "})
    assert config.smtp == Smtp("smtp.example.test", 465, "mailer", "s3cret", "ssl")


def test_the_smtp_password_is_not_in_the_settings_repr():
    config = NotificationsConfig.from_env({"SMTP_HOST": "smtp.example.test", "SMTP_PASSWORD": "s3cret"})
    assert config.smtp.password == "s3cret"
    assert "s3cret" not in repr(config) and "s3cret" not in repr(config.smtp)


@pytest.mark.parametrize("tls", ["tls", "starttls-please", "yes"])
def test_an_unknown_smtp_tls_is_an_error(tls):
    with pytest.raises(ValueError, match="SMTP_TLS"):
        NotificationsConfig.from_env({"SMTP_HOST": "smtp.example.test", "SMTP_TLS": tls})


@pytest.mark.parametrize("variables", [
    {"SMTP_HOST": "smtp.example.test", "SMTP_PORT": "smtp"},
    {"SMTP_HOST": "smtp.example.test", "SMTP_PORT": "70000"},
    {"SMTP_HOST": "smtp.example.test", "SMTP_PORT": "0"},
    {"SMTP_HOST": "smtp.example.test", "SMTP_PORT": "-25"},
    {"SMTP_SINK_PORT": "two"},
])
def test_a_port_that_is_not_a_tcp_port_is_an_error(variables):
    name = "SMTP_PORT" if "SMTP_PORT" in variables else "SMTP_SINK_PORT"
    with pytest.raises(ValueError, match=f"^{name} must be a TCP port"):
        NotificationsConfig.from_env(variables)


# --- SMS ------------------------------------------------------------------------------------------


def test_the_sms_provider_is_the_log_unless_told_otherwise():
    assert NotificationsConfig.from_env({"SMS_PROVIDER": " LOG "}).sms == Sms()


def test_the_http_provider_reads_its_url_and_token():
    config = NotificationsConfig.from_env({"SMS_PROVIDER": "http", "SMS_HTTP_URL": " https://sms.example.test/send ",
                                           "SMS_HTTP_TOKEN": "tok-1"})
    assert config.sms == Sms("http", "https://sms.example.test/send", "tok-1")


@pytest.mark.parametrize("variables", [{"SMS_PROVIDER": "http"},
                                       {"SMS_PROVIDER": "http", "SMS_HTTP_URL": "sms.example.test/send"},
                                       {"SMS_PROVIDER": "carrier-pigeon"}])
def test_an_sms_provider_setting_that_cannot_work_is_an_error(variables):
    with pytest.raises(ValueError, match="SMS_PROVIDER"):
        NotificationsConfig.from_env(variables)


# --- retry schedules -------------------------------------------------------------------------------


def test_notify_retry_schedule_replaces_the_email_and_sms_waits():
    config = NotificationsConfig.from_env({"NOTIFY_RETRY_SCHEDULE": "1, 2.5,4"})
    assert config.retry_schedule("email") == config.retry_schedule("sms") == (1.0, 2.5, 4.0)
    assert config.retry_schedule("webhook") == WEBHOOK_SCHEDULE


def test_webhook_retry_schedule_replaces_only_the_webhook_waits():
    config = NotificationsConfig.from_env({"WEBHOOK_RETRY_SCHEDULE": "0.5,0.5"})
    assert config.retry_schedule("webhook") == (0.5, 0.5)
    assert config.retry_schedule("email") == EMAIL_SCHEDULE


def test_an_empty_or_blank_schedule_keeps_the_default():
    config = NotificationsConfig.from_env({"NOTIFY_RETRY_SCHEDULE": "  ", "WEBHOOK_RETRY_SCHEDULE": ""})
    assert (config.retry_schedule("email"), config.retry_schedule("webhook")) == (EMAIL_SCHEDULE, WEBHOOK_SCHEDULE)


@pytest.mark.parametrize("raw", ["abc", "1,,2", "1;2", "0", "5,0", "-1", "10,-5", "inf", "nan", "1e400", ","])
@pytest.mark.parametrize("name", ["NOTIFY_RETRY_SCHEDULE", "WEBHOOK_RETRY_SCHEDULE"])
def test_a_bad_schedule_is_an_error_naming_the_variable_and_the_value(name, raw):
    with pytest.raises(ValueError) as info:
        NotificationsConfig.from_env({name: raw})
    assert str(info.value) == f"{name} must be comma-separated positive numbers of seconds, got {raw.strip()!r}"


def test_a_channel_without_a_schedule_is_an_error():
    with pytest.raises(ValueError, match="'push'"):
        DEFAULTS.retry_schedule("push")


# --- webhooks, mail names, quotas ----------------------------------------------------------------


@pytest.mark.parametrize("value, allowed", [("true", True), ("1", True), ("yes", True), (" TRUE ", True),
                                            ("Yes", True), ("false", False), ("0", False), ("", False),
                                            ("no", False), ("on", False)])
def test_webhook_allow_private_targets_is_true_1_or_yes(value, allowed):
    assert NotificationsConfig.from_env({"WEBHOOK_ALLOW_PRIVATE_TARGETS": value}).allow_private_targets is allowed


def test_the_mail_names_are_read_as_given():
    """MAIL_FROM is not checked here: a wrong one delays mail until it is fixed (each email checks it)."""
    config = NotificationsConfig.from_env({"MAIL_FROM": "Seed <no-reply@seed.local>", "MAIL_DOMAIN": "m.shop.test",
                                           "REPLY_DOMAIN": "r.shop.test"})
    assert (config.mail_from, config.mail_domain, config.reply_domain) == (
        "Seed <no-reply@seed.local>", "m.shop.test", "r.shop.test")


def test_the_default_quotas_are_read_from_the_environment():
    config = NotificationsConfig.from_env({"NOTIFY_EMAIL_QUOTA_PER_HOUR": "20", "NOTIFY_SMS_QUOTA_PER_HOUR": "0"})
    assert (config.default_quota("email"), config.default_quota("sms")) == (20, 0)


@pytest.mark.parametrize("raw", ["many", "-5", "1.5"])
def test_a_quota_that_is_not_a_whole_number_is_an_error(raw):
    with pytest.raises(ValueError, match="^NOTIFY_SMS_QUOTA_PER_HOUR must be a whole number"):
        NotificationsConfig.from_env({"NOTIFY_SMS_QUOTA_PER_HOUR": raw})
