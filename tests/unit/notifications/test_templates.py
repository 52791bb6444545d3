"""Notification templates (services.notifications.rendering, the files in templates/): our defaults in
Arabic and English, a store's override, and what happens when an override
breaks: the default goes out instead, with the reason, and nothing raises."""
from __future__ import annotations

import re

import pytest

from seedwork.errors import InvalidCommand
from services.notifications.rendering import KINDS, LOCALES, OVERRIDE_LIMITS, check_override, render
from tests.unit.notifications.template_values import CONTEXT

ARABIC = re.compile(r"[\u0600-\u06FF]")

# What each kind must say, whatever the locale: the reason it was sent.
SAYS = {
    "ticket_opened": "1042",
    "ticket_reply": "My parcel has not arrived yet.",
    "customer_replied": "My parcel has not arrived yet.",
    "ticket_assigned": "1042",
    "tracking_link": "https://track.example.test/p/123",
    "order_details": "Blue Kettle",
    "rating_request": "https://shop.example.test/ratings?orders=ord-77",
    "direct_message": "My parcel has not arrived yet.",
    "store_alert": "https://hooks.example.test/in",
    "sla_warning": "3:30",
    "sla_breached": "3:30",
    "ticket_forwarded": "My parcel has not arrived yet.",
}

OVERRIDE = {"subject": "Ticket {{ ticket.number }} at {{ store.name }}",
            "text": "Hi {{ customer_name }}: {{ body }}",
            "html": "<p>Hi {{ customer_name }}: {{ body }}</p>"}

ALL = [(kind, locale) for kind in KINDS for locale in LOCALES]


# --- the defaults ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind, locale", ALL)
def test_every_default_renders_with_the_dispatchers_context(kind, locale):
    rendered = render(kind, locale, CONTEXT)
    assert rendered.fallback_reason is None
    assert rendered.subject and "\n" not in rendered.subject
    assert SAYS[kind] in rendered.text
    assert SAYS[kind] in rendered.html
    assert "Noor Store" in rendered.html
    assert rendered.html.lstrip().startswith("<!DOCTYPE html>")
    for part in (rendered.subject, rendered.text, rendered.html):
        assert "None" not in part


@pytest.mark.parametrize("kind", KINDS)
def test_arabic_html_is_right_to_left_and_in_arabic(kind):
    rendered = render(kind, "ar", CONTEXT)
    assert '<html dir="rtl" lang="ar">' in rendered.html
    assert ARABIC.search(rendered.html)
    if kind != "direct_message":  # its subject and text are the staff's own words
        assert ARABIC.search(rendered.subject + rendered.text)


@pytest.mark.parametrize("kind", KINDS)
def test_english_html_is_left_to_right_and_has_no_arabic(kind):
    rendered = render(kind, "en", CONTEXT)
    assert '<html dir="ltr" lang="en">' in rendered.html
    assert 'dir="rtl"' not in rendered.html and "text-align:right" not in rendered.html
    assert not ARABIC.search(rendered.subject + rendered.text + rendered.html)


@pytest.mark.parametrize("kind, locale", ALL)
def test_every_default_renders_with_nothing_known_and_prints_no_none(kind, locale):
    """The defaults render for any values: an absent variable prints as nothing."""
    rendered = render(kind, locale, {})
    assert rendered.fallback_reason is None
    for part in (rendered.subject, rendered.text, rendered.html):
        assert "None" not in part


def test_the_brand_colour_and_logo_are_used():
    store = {"name": "Noor Store", "brand_color": "#123456", "logo_url": "https://cdn.example.test/logo.png"}
    html = render("ticket_opened", "en", {**CONTEXT, "store": store}).html
    assert "#123456" in html
    assert '<img src="https://cdn.example.test/logo.png"' in html


@pytest.mark.parametrize("color", ["red", "#12345", "#1234567", "#12345g", "javascript:x", None])
def test_a_brand_colour_that_is_not_rrggbb_is_replaced_by_the_default(color):
    html = render("ticket_opened", "en", {**CONTEXT, "store": {"name": "S", "brand_color": color}}).html
    assert "#0e7490" in html
    if color:
        assert color not in html


def test_a_logo_url_that_is_not_http_is_dropped():
    store = {"name": "Noor Store", "logo_url": "javascript:alert(1)"}
    html = render("ticket_opened", "en", {**CONTEXT, "store": store}).html
    assert "javascript:" not in html and "<img" not in html


def test_a_tracking_url_that_is_not_http_gets_no_button():
    html = render("tracking_link", "en", {**CONTEXT, "tracking_url": "javascript:alert(1)"}).html
    assert "javascript:" not in html and "href=" not in html


def test_a_subject_is_one_line_even_when_the_ticket_subject_is_not():
    ticket = {"number": 7, "subject": "Broken\r\nBcc: everyone@example.test"}
    subject = render("ticket_reply", "en", {**CONTEXT, "ticket": ticket}).subject
    assert subject == "New reply on your ticket #7: Broken Bcc: everyone@example.test"


def test_an_unknown_kind_or_locale_is_an_error():
    with pytest.raises(ValueError):
        render("newsletter", "en", CONTEXT)
    with pytest.raises(ValueError):
        render("ticket_opened", "fr", CONTEXT)


# --- what a shopper writes is escaped in HTML ---------------------------------------------------

SCRIPT = '<script>alert("x")</script> & <b>bold</b>'


@pytest.mark.parametrize("locale", LOCALES)
def test_a_shoppers_body_is_escaped_in_the_html_part(locale):
    rendered = render("customer_replied", locale, {**CONTEXT, "body": SCRIPT})
    assert "<script>" not in rendered.html and "<b>bold</b>" not in rendered.html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in rendered.html
    assert SCRIPT in rendered.text  # the text part is not HTML: kept as written


def test_names_and_subjects_are_escaped_in_the_html_part():
    context = {**CONTEXT, "customer_name": "<img src=x onerror=alert(1)>",
               "ticket": {"number": 1, "subject": "<i>urgent</i>"},
               "store": {"name": "<Noor & Sons>"}}
    html = render("ticket_assigned", "en", context).html
    assert "<img src=x" not in html and "<i>urgent</i>" not in html and "<Noor & Sons>" not in html
    assert "&lt;Noor &amp; Sons&gt;" in html


def test_line_breaks_of_a_body_are_kept_in_html_and_escaped():
    html = render("ticket_reply", "en", {**CONTEXT, "body": "line one\n<two>"}).html
    assert "line one<br>\n&lt;two&gt;" in html


# --- a store's override -----------------------------------------------------------------------------


def test_a_stores_override_is_used():
    rendered = render("ticket_reply", "en", CONTEXT, OVERRIDE)
    assert rendered.fallback_reason is None
    assert rendered.subject == "Ticket 1042 at Noor Store"
    assert rendered.text == "Hi Noura: My parcel has not arrived yet."
    assert rendered.html == "<p>Hi Noura: My parcel has not arrived yet.</p>"


def test_an_overrides_html_is_autoescaped_too():
    rendered = render("ticket_reply", "en", {**CONTEXT, "body": SCRIPT}, OVERRIDE)
    assert rendered.fallback_reason is None
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html
    assert SCRIPT in rendered.text


def test_an_overrides_subject_is_made_one_line():
    override = {**OVERRIDE, "subject": "Ticket\n{{ ticket.number }}\n\n  done"}
    assert render("ticket_reply", "en", CONTEXT, override).subject == "Ticket 1042 done"


def test_an_override_sees_only_the_variables_of_its_kind():
    """``link`` belongs to rating requests: for a reply it is an unknown variable."""
    override = {**OVERRIDE, "text": "{{ link }}"}
    rendered = render("ticket_reply", "en", CONTEXT, override)
    assert rendered.fallback_reason == "UndefinedError: 'link' is undefined"


def default_of(kind="ticket_reply", locale="en"):
    return render(kind, locale, CONTEXT)


BROKEN = {
    "unknown variable": ({"text": "Hi {{ shopper_phone }}"}, "UndefinedError: 'shopper_phone' is undefined"),
    "runtime error": ({"html": "<p>{{ 1 / 0 }}</p>"}, "ZeroDivisionError: division by zero"),
    "undefined attribute": ({"subject": "{{ ticket.secret_field }}"}, "UndefinedError"),
    "syntax error": ({"text": "{% if body %}unfinished"}, "TemplateSyntaxError"),
    "bad filter": ({"text": "{{ body|no_such_filter }}"}, "TemplateAssertionError"),
    "missing part": ({"html": None}, "ValueError: the override has no html"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_override_falls_back_to_the_default_with_the_reason(case):
    change, reason = BROKEN[case]
    override = {k: v for k, v in {**OVERRIDE, **change}.items() if v is not None}
    rendered = render("ticket_reply", "en", CONTEXT, override)
    expected = default_of()
    assert (rendered.subject, rendered.text, rendered.html) == (expected.subject, expected.text, expected.html)
    assert rendered.fallback_reason.startswith(reason)
    assert len(rendered.fallback_reason) <= 300


def test_a_fallback_is_in_the_stores_locale():
    rendered = render("ticket_reply", "ar", CONTEXT, {**OVERRIDE, "text": "{{ nope }}"})
    assert rendered.fallback_reason
    assert '<html dir="rtl" lang="ar">' in rendered.html and ARABIC.search(rendered.text)


@pytest.mark.parametrize("source", ["{{ ''.__class__ }}", "{{ ''.__class__.__mro__[1].__subclasses__() }}",
                                    "{{ ticket.__dict__ }}", "{{ store.name.__init__.__globals__ }}",
                                    "{{ cycler.__init__.__globals__.os }}", "{{ body.__len__() }}"])
def test_the_sandbox_refuses_reaching_python_internals_and_the_default_goes_out(source):
    rendered = render("ticket_reply", "en", CONTEXT, {**OVERRIDE, "text": source})
    assert rendered.fallback_reason.startswith("SecurityError: access to attribute")
    assert rendered.text == default_of().text


@pytest.mark.parametrize("source, reason", [
    ("{{ 'x' * 1000000 }}", "grew past"),
    ("{% for i in range(100000) %}{% endfor %}", "larger than"),
    ("{{ '%s' % body }}", "'%' formatting"),
    ("{{ '{0}'.format(body) }}", "str.format"),
    ("{{ [1] * 5 }}", "repeating a list"),
    ("{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}", "longer than"),
    ("{{ ('\\n' * 199999) | indent(10000, blank=True) }}", "would grow past"),
])
def test_an_override_that_would_exhaust_the_worker_falls_back(source, reason):
    rendered = render("ticket_reply", "en", CONTEXT, {**OVERRIDE, "text": source})
    assert rendered.fallback_reason.startswith("SecurityError")
    assert reason in rendered.fallback_reason
    assert rendered.text == default_of().text


# --- checking an override when a store saves it ------------------------------------------------------


def test_a_valid_override_is_returned_as_given():
    assert check_override(OVERRIDE) == OVERRIDE


def invalid(fields) -> InvalidCommand:
    with pytest.raises(InvalidCommand) as info:
        check_override(fields)
    assert info.value.code == "invalid_field" and len(info.value.errors) == 1
    return info.value


@pytest.mark.parametrize("part", ["subject", "text", "html"])
def test_a_syntax_error_is_refused_naming_the_field_and_line(part):
    error = invalid({**OVERRIDE, part: "first line\n{% if body %}never closed"})
    assert list(error.errors) == [part]
    assert error.errors[part][0].startswith("line ")


@pytest.mark.parametrize("part", ["subject", "text", "html"])
@pytest.mark.parametrize("value", [None, "", "   ", 7])
def test_every_part_is_required(part, value):
    fields = {**OVERRIDE, part: value}
    assert invalid(fields).errors == {part: ["is required: a template text"]}


def test_a_missing_part_is_refused():
    assert invalid({"subject": "s", "text": "t"}).errors == {"html": ["is required: a template text"]}


def test_an_unknown_field_is_refused():
    assert invalid({**OVERRIDE, "css": "p {}"}).errors == {"css": ["is not a template field (subject, text, html)"]}


@pytest.mark.parametrize("part", sorted(OVERRIDE_LIMITS))
def test_each_part_has_a_size_limit(part):
    limit = OVERRIDE_LIMITS[part]
    assert check_override({**OVERRIDE, part: "x" * limit})[part] == "x" * limit
    assert invalid({**OVERRIDE, part: "x" * (limit + 1)}).errors == {part: [f"must be at most {limit} characters"]}


def test_an_override_that_parses_but_names_an_unknown_variable_is_accepted_and_falls_back_at_send_time():
    """Strict undefined variables show only when rendering: saving cannot know the values."""
    fields = {**OVERRIDE, "text": "{{ shopper_phone }}"}
    assert check_override(fields) == fields
    assert render("ticket_reply", "en", CONTEXT, fields).fallback_reason


def test_an_override_over_the_budget_is_remembered_so_later_messages_skip_it_at_once():
    """Rendering does not yield to other green threads: an override that
    ran out of time is not rendered again for a while; the default goes out
    with the same reason."""
    from services.notifications import rendering

    slow = {**OVERRIDE, "text": "{%% for a in range(10000) %%}{%% for b in range(10000) %%}{%% endfor %%}"
                                "{%% endfor %%}{# %s #}" % id(object())}
    first = render("ticket_reply", "en", CONTEXT, slow)
    assert "longer than" in first.fallback_reason
    calls = []
    original = rendering.sandbox.render_within
    rendering.sandbox.render_within = lambda *a, **k: calls.append(a) or original(*a, **k)
    try:
        second = render("ticket_reply", "en", CONTEXT, slow)
    finally:
        rendering.sandbox.render_within = original
    assert calls == [] and second.fallback_reason == first.fallback_reason
    assert second.text == default_of().text


def test_an_override_that_failed_on_one_messages_values_is_tried_again_on_the_next():
    """``body.upper()`` fails without a body, works with one: not remembered."""
    override = {**OVERRIDE, "text": "{{ body.upper() }} {# %s #}" % id(object())}
    assert render("ticket_reply", "en", {**CONTEXT, "body": None}, override).fallback_reason
    again = render("ticket_reply", "en", {**CONTEXT, "body": "it arrived"}, override)
    assert again.fallback_reason is None and again.text.startswith("IT ARRIVED")


def test_data_values_passed_to_a_macro_are_not_limited_like_literal_arguments():
    """A ticket numbered above 10,000 is no reason to fall back."""
    override = {**OVERRIDE, "text": "{% macro n(x) %}#{{ x }}{% endmacro %}{{ n(ticket.number) }}"}
    rendered = render("ticket_reply", "en", {**CONTEXT, "ticket": {**CONTEXT["ticket"], "number": 123456}}, override)
    assert rendered.fallback_reason is None and rendered.text == "#123456"


def test_an_override_has_no_lipsum_text_generator():
    """``lipsum`` builds text without passing any of the sandbox's checks."""
    rendered = render("ticket_reply", "en", CONTEXT, {**OVERRIDE, "text": "{{ lipsum(5) }}"})
    assert rendered.fallback_reason.startswith("UndefinedError") and "lipsum" in rendered.fallback_reason
    assert rendered.text == default_of().text


# --- SLA warnings and breaches: which ticket, which target, when it is due ----------------------------

SLA = {**CONTEXT, "ticket": {"id": "t-1", "number": 1042, "subject": "Where is my parcel?", "team": "Returns"},
       "target": "first_response", "due_at": "2026-01-04T12:30:00Z"}


@pytest.mark.parametrize("kind, subject", [
    ("sla_warning", "Due soon: first response on ticket #1042: Where is my parcel?"),
    ("sla_breached", "Overdue: first response on ticket #1042: Where is my parcel?"),
])
def test_an_sla_email_in_english_names_the_ticket_its_target_and_when_it_is_due_in_riyadh(kind, subject):
    rendered = render(kind, "en", SLA)
    assert rendered.subject == subject
    due = "Due" if kind == "sla_warning" else "Was due"
    assert f"{due}: Sunday 4 January 2026, 3:30 PM (Riyadh time)" in rendered.text
    assert f"<strong>{due}:</strong> Sunday 4 January 2026, 3:30 PM (Riyadh time)" in rendered.html
    assert "Team: Returns" in rendered.text and "Hello Khalid," in rendered.text


@pytest.mark.parametrize("kind, subject, due", [
    ("sla_warning", "اقترب موعد الرد الأول للتذكرة رقم 1042: Where is my parcel?", "الموعد"),
    ("sla_breached", "فات موعد الرد الأول للتذكرة رقم 1042: Where is my parcel?", "كان الموعد"),
])
def test_an_sla_email_in_arabic_says_the_same_in_arabic_words(kind, subject, due):
    rendered = render(kind, "ar", SLA)
    assert rendered.subject == subject
    assert f"{due}: الأحد 4 يناير 2026، 3:30 م بتوقيت مكة المكرمة" in rendered.text
    assert "الفريق: Returns" in rendered.text and "مرحباً Khalid،" in rendered.text


@pytest.mark.parametrize("target, english, arabic", [
    ("first_response", "first response", "الرد الأول"),
    ("next_response", "next response", "الرد التالي"),
    ("resolution", "resolution", "الحل"),
])
def test_each_sla_target_has_its_name_in_each_locale(target, english, arabic):
    assert f"its {english} deadline" in render("sla_warning", "en", {**SLA, "target": target}).text
    assert f"فات موعد {arabic} للتذكرة" in render("sla_breached", "ar", {**SLA, "target": target}).text


@pytest.mark.parametrize("time_zone, due_at, english", [
    (None, "2026-01-04T21:00:00Z", "Monday 5 January 2026, 12:00 AM (Riyadh time)"),  # midnight
    ("Asia/Riyadh", "2026-01-04T09:00:00+00:00", "Sunday 4 January 2026, 12:00 PM (Riyadh time)"),  # noon
    ("Asia/Dubai", "2026-01-04T12:30:00Z", "Sunday 4 January 2026, 4:30 PM (UAE time)"),
    ("Europe/Paris", "2026-07-04T00:05:00Z", "Saturday 4 July 2026, 2:05 AM (UTC+02:00)"),  # summer time
    ("No/Such_Zone", "2026-01-04T12:30:00Z", "Sunday 4 January 2026, 3:30 PM (Riyadh time)"),
])
def test_the_due_moment_is_shown_in_the_events_time_zone_else_riyadhs(time_zone, due_at, english):
    rendered = render("sla_warning", "en", {**SLA, "time_zone": time_zone, "due_at": due_at})
    assert f"Due: {english}" in rendered.text


@pytest.mark.parametrize("due_at", [None, "", "yesterday", "2026-01-04T12:30:00", 1767529800])
def test_a_due_moment_that_is_not_an_iso_moment_with_an_offset_leaves_the_line_out(due_at):
    for locale in LOCALES:
        rendered = render("sla_breached", locale, {**SLA, "due_at": due_at})
        assert rendered.fallback_reason is None
        assert "Was due" not in rendered.text and "كان الموعد" not in rendered.text


@pytest.mark.parametrize("locale, hello", [("en", "Hello support team,"), ("ar", "مرحباً فريق الدعم،")])
def test_an_sla_email_to_the_support_address_greets_the_team(locale, hello):
    rendered = render("sla_breached", locale, {**SLA, "agent_name": None,
                                               "ticket": {**SLA["ticket"], "team": None}})
    assert rendered.text.startswith(hello)
    assert "Team:" not in rendered.text and "الفريق:" not in rendered.text


def test_a_stores_sla_override_sees_the_due_moments_parts():
    override = {"subject": "#{{ ticket.number }} {{ target }}",
                "text": "{{ due_at.year }}-{{ due_at.month }}-{{ due_at.day }} {{ due_at.hour }}:{{ due_at.minute }} "
                        "{{ due_at.zone }} {{ due_at.utc_offset }} {{ due_at.iso }}",
                "html": "<p>{{ ticket.team }}</p>"}
    rendered = render("sla_warning", "en", SLA, override)
    assert rendered.fallback_reason is None
    assert rendered.subject == "#1042 first_response"
    assert rendered.text == "2026-1-4 15:30 Asia/Riyadh +03:00 2026-01-04T15:30:00+03:00"
    assert rendered.html == "<p>Returns</p>"
