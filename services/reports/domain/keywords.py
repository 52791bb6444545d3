"""Keyword trends: the terms of a ticket's subject and first message, and
how often they come up in a period against the period before. Terms are
folded as the customers search folds text (``seedwork.text.fold_text``:
Arabic spelling variants, Persian letters, digits, case), with stop words
(Arabic, Persian, English) and the Arabic article removed. Plain Python.
See docs/reports.md, "Definitions".
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Iterable, Mapping

from seedwork.text import fold_text

from .rollups import created_of

MIN_LENGTH = 2  # a shorter token is no keyword
ARTICLE, ARTICLE_STEM = "ال", 3  # "التوصيل" counts as "توصيل"; a stem of fewer letters keeps its article

_ENGLISH = """
a about above after again against all also am an and any are as at be because been before being below between
both but by can cannot could did didn do does doesn doing don down during each either else even ever every few
for from further get got had has have having he her here hers him his how however if in into is isn it its just
let ll me more most much must my need no nor not now of off ok okay on once one only or other our ours out over own
please re same shall she should so some still such than that the their theirs them then there these they this
those through to too under until up upon us ve very want was wasn we were what when where which while who whom why
will with won would yes yet you your yours hi hello hey dear thanks thank thx regards sir madam im http https
www com net org
"""
_ARABIC = """
في من الى إلى على عن مع ان أن إن او أو ثم هذا هذه ذلك تلك هناك هنا هو هي هم هما انا أنا نحن انت أنت انتم
كان كانت يكون تكون ليس لا لم لن ما ماذا متى اين أين كيف لماذا هل قد لقد كل بعض غير عند عندي لدي لي له لها
الذي التي الذين اللذين بين حتى اذا إذا لو لكن بعد قبل ايضا أيضا جدا يا مرحبا اهلا السلام سلام عليكم
شكرا شكر لكم سمحت فضلك الرجاء رجاء ارجو أرجو اريد أريد ابي ممكن تم وقد فقط منذ كما مثل عليه اي أي
"""
_PERSIAN = """
و در به از که این آن با برای را است هست نیست من ما شما او آنها تو یک هم نه بله سلام لطفا ممنون مرسی
خیلی چه چرا کی کجا چطور اگر ولی اما تا بود شد شده می های ها کنم کنید دارم دارید خواهش بر هر یا باید
"""


def _without_article(word: str) -> str:
    if word.startswith(ARTICLE) and len(word) - len(ARTICLE) >= ARTICLE_STEM:
        return word[len(ARTICLE):]
    return word


# Folded, and without the article, as the words they are compared with.
STOP_WORDS = frozenset(_without_article(word) for text in (_ENGLISH, _ARABIC, _PERSIAN)
                       for word in fold_text(text).split())


def terms(text: str) -> list[str]:
    """The keywords of ``text`` in order, repeats kept: folded words, the
    Arabic article off, no stop word, no number, none shorter than 2 letters."""
    out = []
    for word in fold_text(text or "").split():
        word = _without_article(word)
        if len(word) >= MIN_LENGTH and not word.isdigit() and word not in STOP_WORDS:
            out.append(word)
    return out


def ticket_terms(subject: str, first_message: str) -> frozenset[str]:
    """The distinct terms of a ticket: a ticket counts once for a term, however often it says it."""
    return frozenset(terms(subject)) | frozenset(terms(first_message))


def opened_terms(opened: Any) -> frozenset[str]:
    """The terms of a ``ticket.opened`` event (its subject and message). None
    for a ticket the platform handles: its content is not the store's to see."""
    data = opened.data
    if data.get("handled_by") == "platform":
        return frozenset()
    return ticket_terms(data.get("subject") or "", (data.get("message") or {}).get("body") or "")


def term_counts(rows: Iterable[tuple[date, str, Any]]) -> dict[str, int]:
    """Tickets per term over the ``term`` rollup rows ``(day, term, Measures)`` of a period."""
    counts: dict[str, int] = {}
    for _, term, measures in rows:
        counts[term] = counts.get(term, 0) + created_of(measures)
    return counts


def previous_period(start: date, end: date) -> tuple[date, date]:
    """The period of as many days that ends the day before ``start`` (both ends included)."""
    days = (end - start).days + 1
    return start - timedelta(days=days), start - timedelta(days=1)


def trends(current: Mapping[str, int], previous: Mapping[str, int], limit: int = 20) -> list[dict[str, Any]]:
    """The ``limit`` most frequent terms of the current period (ties by term),
    each with its count in the previous one and the growth against it
    (``(count - previous) / previous``; None when it is new)."""
    top = sorted(((count, term) for term, count in current.items() if count > 0), key=lambda c: (-c[0], c[1]))
    out = []
    for count, term in top[:limit]:
        before = previous.get(term, 0)
        out.append({"term": term, "count": count, "previous": before,
                    "growth": None if before == 0 else round((count - before) / before, 4)})
    return out
