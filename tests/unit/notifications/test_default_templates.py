"""Our default templates render, for the same values, exactly the subject,
text and HTML recorded in ``rendered_defaults.json``: every kind, every
locale, and values that take each branch of the templates (everything
known, nothing known, unknown names, messages, unsafe links, markup to
escape, each kind of store alert).

The record was made from the templates as they were when they were Python
strings, before they became the files in ``services/notifications/templates/``,
so this test is what says the move changed no byte of any email. When a
template is changed on purpose, record again and read the diff:

    .venv/bin/python -m tests.unit.notifications.test_default_templates --record
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from services.notifications.rendering import KINDS, LOCALES, render
from tests.unit.notifications.template_values import CONTEXT

RECORD = Path(__file__).with_name("rendered_defaults.json")

EVERYTHING = {
    **CONTEXT,
    "body": "My parcel has not arrived yet.\nIt was due on Monday.",
    "order": {**CONTEXT["order"], "items": [*CONTEXT["order"]["items"], {"name": "Tea", "quantity": None}]},
    "last_error": "HTTP 503: unavailable\nretry later",
}

CASES: dict[str, dict] = {
    "everything": EVERYTHING,
    "nothing": {},
    "unknown_names": {
        **EVERYTHING, "customer_name": None, "agent_name": None, "body": None, "subject": None, "link": None,
        "tracking_url": None, "ticket": {"id": "t-2", "number": None, "subject": "No number yet"},
        "store": {"name": "Light", "brand_color": "#f5f5f5", "logo_url": "https://cdn.example.test/logo.png"},
        "order": {"id": None, "status": "lost", "items": [{"name": "Mug"}, "A plain item"], "total": None},
        "alert": "quota_reached", "channel": "sms", "window_start": None,
        # a target of a later version, a zone nobody knows (Riyadh's instead), midnight there
        "target": "weekend_response", "time_zone": "Not/A_Zone", "due_at": "2026-03-01T21:00:00+00:00",
        # a forward: authors nobody knows, no moment, a system message, earlier messages left out
        "note": None, "left_out": 1, "messages": [
            {"author": "customer", "author_name": None, "body": "Where is it?", "created_at": None},
            {"author": "agent", "author_name": None, "body": "On its way.", "created_at": "yesterday"},
            {"author": "system", "body": "Track it here.", "attachments": None}, "not a message"],
    },
    "message": {
        **EVERYTHING, "message": "Your order left\r\nthe warehouse <today> & more",
        "tracking_url": "javascript:alert(1)", "link": "ftp://files.example.test/x",
        "order": {"id": "ord-9", "status": "cancelled", "total": "0", "currency": "SAR", "items": [],
                  "tracking_url": "https://track.example.test/p/9"},
        "alert": "quota_reached", "channel": "email", "quota": 2,
        # a zone said by its offset, noon there, minutes under ten
        "target": "next_response", "time_zone": "Europe/London", "due_at": "2026-08-15T11:05:00Z",
    },
    "markup": {
        **EVERYTHING, "body": '<script>alert("x")</script> & <b>bold</b>', "customer_name": "<img src=x>",
        "agent_name": "A & B", "store": {"name": "<Noor & Sons>", "brand_color": "red", "logo_url": "javascript:x"},
        "ticket": {"id": "t-3", "number": 7, "subject": "<i>urgent</i>\r\nBcc: everyone@example.test",
                   "team": "<Returns & Co>"},
        "target": "<b>resolution</b>", "due_at": "not a moment",
        "subject": "<Sale> & \"more\"", "order": {"id": "<o>", "status": "<s>", "items": [{"name": "<b>x</b>"}]},
        "alert": "something_new", "message": None, "url": "https://hooks.example.test/?a=1&b=<2>",
        "note": "<b>check</b> & \"see\"", "left_out": 12, "messages": [
            {"author": "customer", "author_name": "<img src=x>", "body": "<script>alert(1)</script>\nline two",
             "created_at": "2026-08-15T11:05:00Z",
             "attachments": [{"filename": "<x>.png", "url": "javascript:alert(1)"},
                             {"filename": "a&b.pdf", "url": "https://files.example.test/?a=1&b=<2>"}]}],
    },
    "alert_message": {**EVERYTHING, "alert": "custom", "message": "line one\nline <two> & three",
                      "target": "resolution", "time_zone": "Asia/Dubai", "due_at": "2026-12-31T23:59:00-05:00"},
    "webhook_failing_without_error": {**EVERYTHING, "alert": "webhook_failing", "last_error": None},
}


def rendered(kind: str, locale: str, case: str) -> dict[str, str]:
    message = render(kind, locale, CASES[case])
    assert message.fallback_reason is None
    return {"subject": message.subject, "text": message.text, "html": message.html}


def everything_rendered() -> dict[str, dict[str, str]]:
    return {f"{kind}/{locale}/{case}": rendered(kind, locale, case)
            for kind in KINDS for locale in LOCALES for case in CASES}


@pytest.fixture(scope="module")
def recorded() -> dict[str, dict[str, str]]:
    return json.loads(RECORD.read_text(encoding="utf-8"))


def test_the_record_covers_every_kind_locale_and_case(recorded):
    assert set(recorded) == {f"{k}/{loc}/{c}" for k in KINDS for loc in LOCALES for c in CASES}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_a_default_renders_exactly_what_was_recorded(recorded, kind, locale, case):
    assert rendered(kind, locale, case) == recorded[f"{kind}/{locale}/{case}"]


if __name__ == "__main__":
    if sys.argv[1:] != ["--record"]:
        sys.exit("usage: python -m tests.unit.notifications.test_default_templates --record")
    RECORD.write_text(json.dumps(everything_rendered(), ensure_ascii=False, indent=1, sort_keys=True) + "\n",
                      encoding="utf-8")
    print(f"recorded {RECORD}")
