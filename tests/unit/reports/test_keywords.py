"""Keyword trends (services/reports/domain/keywords.py): the terms of a
ticket's subject and first message, folded as the customers search folds
text, and their counts against the period before."""
from __future__ import annotations

from datetime import date

from seedwork.envelope import Actor
from services.reports.domain.keywords import (
    STOP_WORDS, opened_terms, previous_period, term_counts, terms, ticket_terms, trends,
)
from services.reports.domain.rollups import Measures
from tests.unit.reports.stories import Event, at


def test_arabic_spellings_fold_to_one_term_and_the_article_goes():
    assert terms("أسعار") == terms("اسعار") == terms("الأسعار") == ["اسعار"]
    assert terms("الشحنة") == terms("شحنه") == ["شحنه"]  # ta marbuta as heh, and no article
    assert terms("التوصيل متأخّر") == ["توصيل", "متاخر"]  # shadda gone, alef with hamza bare


def test_a_short_stem_keeps_its_article():
    assert terms("الغد") == ["الغد"]  # "غد" would be two letters


def test_persian_letters_fold_to_the_arabic_ones():
    assert terms("پیگیری سفارش") == terms("پيگيري سفارش") == ["پيگيري", "سفارش"]
    assert terms("کیک") == terms("كيك")


def test_stop_words_numbers_and_single_letters_are_no_terms():
    assert terms("Hi, I'm still waiting for my order #1234, please!") == ["waiting", "order"]
    assert terms("مرحبا، أريد أن أعرف أين طلبي رقم ١٢٣٤ من فضلك") == ["اعرف", "طلبي", "رقم"]
    assert terms("سلام، لطفاً سفارش من کی میرسد؟") == ["سفارش", "ميرسد"]
    assert terms("") == terms(None) == []


def test_stop_words_are_kept_as_they_are_compared():
    assert "ذين" in STOP_WORDS  # "الذين" without its article, as terms() sees it
    assert terms("الذين السلام عليكم") == []


def test_a_ticket_counts_once_for_a_term_however_often_it_says_it():
    assert ticket_terms("Refund refund", "I want a REFUND for the broken lamp") == {
        "refund", "broken", "lamp"}


def test_the_terms_of_an_opening_and_none_of_a_ticket_the_platform_handles():
    data = {"subject": "Broken lamp", "message": {"id": "m", "body": "The lamp arrived broken", "attachments": []}}
    opened = Event("ticket.opened", data, Actor("customer", "c"), at("sun 09:00"), 1)
    assert opened_terms(opened) == {"broken", "lamp", "arrived"}
    platform = Event("ticket.opened", {**data, "handled_by": "platform"}, Actor("customer", "c"), at("sun 09:00"), 1)
    assert opened_terms(platform) == frozenset()


def test_terms_per_period_and_their_growth_against_the_period_before():
    march = term_counts([(date(2026, 3, 1), "refund", Measures(created=3)), (date(2026, 3, 2), "refund",
                         Measures(created=3)), (date(2026, 3, 2), "late", Measures(created=2)),
                         (date(2026, 3, 3), "lamp", Measures(created=2))])
    assert march == {"refund": 6, "late": 2, "lamp": 2}
    assert trends(march, {"refund": 4, "late": 4, "gone": 9}) == [
        {"term": "refund", "count": 6, "previous": 4, "growth": 0.5},
        {"term": "lamp", "count": 2, "previous": 0, "growth": None},  # new; ties by term
        {"term": "late", "count": 2, "previous": 4, "growth": -0.5},
    ]
    assert [t["term"] for t in trends(march, {}, limit=1)] == ["refund"]


def test_the_previous_period_is_as_long_and_ends_the_day_before():
    assert previous_period(date(2026, 3, 1), date(2026, 3, 31)) == (date(2026, 1, 29), date(2026, 2, 28))
    assert previous_period(date(2026, 3, 2), date(2026, 3, 2)) == (date(2026, 3, 1), date(2026, 3, 1))
