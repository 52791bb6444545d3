"""How a customer is written down so a merchant finds them however they type.

Pure functions, shared by the write side (mobiles are stored in E.164) and the
read side (the ``search_text`` column and the terms a query is split into).
The same ``fold_text`` runs on both sides, so whatever it merges, it merges
consistently: "أحمد", "احمد" and "إحمد" are one name to a search.
"""
from __future__ import annotations

import re
import unicodedata

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

from seedwork.errors import InvalidCommand, InvalidQuery
from seedwork.text import fold_text  # one folding for every service; listing and projection import it from here

MAX_QUERY_CHARS = 200
MAX_QUERY_TERMS = 8
# A raw query this long is never a search, and NFKC may expand it many times.
_MAX_RAW_QUERY_CHARS = 1000
_MAX_RAW_MOBILE_CHARS = 64


def _ascii_digits(text: str) -> str:
    """NFKC, then every decimal digit written as ASCII; everything else untouched."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(str(unicodedata.decimal(ch)) if unicodedata.category(ch) == "Nd" else ch for ch in text)


# --- mobiles -----------------------------------------------------------------------------

# What people write around the digits of a phone number. Letters (vanity
# numbers) and extensions are refused: phonenumbers would accept and drop them.
_MOBILE_CHARS = re.compile(r"\+?[0-9\s\-().]+")
_MOBILE_TYPES = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE, PhoneNumberType.UNKNOWN)


def normalise_mobile(raw: str, default_region: str = "SA") -> str:
    """The E.164 form (``+966501234567``) of a mobile written any common way.

    A number without ``+`` or ``00`` is read in ``default_region`` (the store's
    country). Anything that is not a valid mobile number is ``InvalidCommand``
    on the field ``mobile``.
    """
    if not isinstance(raw, str):
        raise InvalidCommand.field("mobile", "must be a phone number written as text")
    text = _ascii_digits(raw).strip()
    if not text:
        raise InvalidCommand.field("mobile", "must not be empty")
    if len(text) > _MAX_RAW_MOBILE_CHARS or not _MOBILE_CHARS.fullmatch(text):
        raise InvalidCommand.field("mobile", "may hold only digits, spaces, dashes, parentheses and a leading + or 00")
    if text.startswith("00"):
        text = "+" + text[2:]  # the international prefix of most countries, whatever the default region's is
    try:
        number = phonenumbers.parse(text, default_region)
    except NumberParseException:
        raise InvalidCommand.field("mobile", "is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidCommand.field(
            "mobile", "is not a valid phone number (write it with its country code, e.g. +966 50 123 4567)")
    if phonenumbers.number_type(number) not in _MOBILE_TYPES:
        raise InvalidCommand.field("mobile", "must be a mobile number, not a landline or service number")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def mobile_digits(e164: str) -> str:
    return e164.lstrip("+")


def _mobile_variants(e164: str) -> list[str]:
    """The ways a merchant may type a stored mobile: international, national
    significant number, and the national form with its trunk prefix (``05...``)."""
    digits = mobile_digits(e164)
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        digits = re.sub(r"\D", "", e164)  # stored data that predates validation: still searchable by digits
        return [digits] if digits else []
    national = re.sub(r"\D", "", phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL))
    variants = [digits, phonenumbers.national_significant_number(number), national]
    return list(dict.fromkeys(v for v in variants if v))


# --- search --------------------------------------------------------------------------------


# A run of digits as people write phone numbers: "+966 50 123-4567", "(050) 123".
# Only whole runs: "ahmed2024" stays one word, as fold_text leaves it in search_text.
_NUMBER_RUN = re.compile(r"(?<!\w)(?:\+\s*)?\d(?:[\s\-()]*\d)*(?!\w)")


def _number_term(run: str) -> str:
    digits = re.sub(r"\D", "", run)
    return digits[2:] if digits.startswith("00") else digits  # 00966... is +966...; search_text has 966...


def _written_numbers(text: str) -> list[str]:
    """Numbers written with separators in a name or email ("Branch 12-34"), as
    ``query_terms`` will read them when the merchant types them the same way."""
    return [_number_term(run.group()) for run in _NUMBER_RUN.finditer(_ascii_digits(text))
            if not run.group().isdigit()]


def search_text(name: str, mobile: str, email: str | None) -> str:
    """The one string the database's trigram index searches for a customer."""
    name, email = name or "", email or ""
    extra = dict.fromkeys(_written_numbers(name) + _written_numbers(email))
    parts = [fold_text(name), *_mobile_variants(mobile or ""), fold_text(email), *extra]
    return " ".join(p for p in parts if p)


def query_terms(q: str | None) -> list[str]:
    """A merchant's query as terms, each of which must occur in ``search_text``.

    A phone number typed with spaces, dashes, ``+`` or ``00`` becomes one digit
    term. Duplicates go; at most ``MAX_QUERY_TERMS`` terms are kept.
    """
    if q is None:
        return []
    if not isinstance(q, str):
        raise InvalidQuery.field("q", "must be text")
    if len(q) > _MAX_RAW_QUERY_CHARS or len(fold_text(q)) > MAX_QUERY_CHARS:
        raise InvalidQuery.field("q", f"must be at most {MAX_QUERY_CHARS} characters")
    text, terms, start = _ascii_digits(q), [], 0
    for run in _NUMBER_RUN.finditer(text):
        terms += fold_text(text[start:run.start()]).split()
        terms.append(_number_term(run.group()))
        start = run.end()
    terms += fold_text(text[start:]).split()
    return list(dict.fromkeys(t for t in terms if t))[:MAX_QUERY_TERMS]


def like_pattern(term: str) -> str:
    """``%term%`` for SQL ``LIKE`` with backslash as the escape character."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
