"""Finding a customer however the merchant types (services.customers.normalise)."""
from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seedwork.errors import InvalidCommand, InvalidQuery
from services.customers.normalise import (
    MAX_QUERY_TERMS, fold_text, like_pattern, mobile_digits, normalise_mobile, query_terms, search_text,
)

# --- folding names: one spelling for the many ways Arabic is typed -------------------------


@pytest.mark.parametrize("typed, stored", [
    ("أحمد", "احمد"),          # hamza above
    ("إحمد", "احمد"),          # hamza below
    ("آمنة", "امنه"),          # madda, ta marbuta
    ("ٱلرحمن", "الرحمن"),      # alef wasla
    ("فاطمة", "فاطمه"),        # ta marbuta typed as heh
    ("مُحَمَّد", "محمد"),        # harakat and shadda
    ("مصطفى", "مصطفي"),        # alef maksura typed as yeh
    ("علی", "علي"),            # Persian yeh
    ("کریم", "كريم"),          # Persian kaf and yeh
    ("محـــمد", "محمد"),        # tatweel stretching a word
    ("مؤمن", "مومن"),          # hamza on waw
    ("هانئ", "هاني"),          # hamza on yeh
    ("ﻻ", "لا"),               # a presentation form (NFKC)
])
def test_arabic_spellings_fold_to_one(typed, stored):
    assert fold_text(typed) == fold_text(stored)


def test_alef_forms_all_fold_to_bare_alef():
    assert {fold_text(name) for name in ("أحمد", "احمد", "إحمد", "آحمد")} == {"احمد"}


def test_latin_text_is_casefolded_and_punctuation_separates_words():
    assert fold_text("  Ahmed.AL-Ghamdi@Example.COM ") == "ahmed al ghamdi example com"
    assert fold_text("STRASSE") == fold_text("Straße")
    assert fold_text("tab\there\n\nnewline") == "tab here newline"


def test_digits_of_every_script_become_ascii():
    assert fold_text("١٢٣ ۴۵۶ ７８９ ४२") == "123 456 789 42"


def test_invisible_marks_are_dropped():
    # ZWNJ inside a Persian word, a right-to-left mark before a name
    assert fold_text("می\u200cخواهم") == fold_text("میخواهم")
    assert fold_text("\u200fسارة") == "ساره"


def test_empty_and_blank_text_fold_to_empty():
    assert fold_text("") == "" and fold_text(" \t ") == "" and fold_text("..!") == ""


@given(st.text())
def test_folding_is_idempotent(text):
    assert fold_text(fold_text(text)) == fold_text(text)


@given(st.text())
def test_folded_text_is_clean(text):
    folded = fold_text(text)
    assert folded == folded.strip() and "  " not in folded
    assert not any(ch in folded for ch in "أإآٱةىؤئیکـ\u064b\u064e\u0650\u0651\u0670")
    assert all(ch in "0123456789" for ch in folded if unicodedata.category(ch) == "Nd")


# --- mobiles: stored in E.164 whatever the form typed --------------------------------------


@pytest.mark.parametrize("raw, region, e164", [
    ("+966 50 123 4567", "SA", "+966501234567"),
    ("+966501234567", "SA", "+966501234567"),
    ("00966501234567", "SA", "+966501234567"),
    ("00966 50-123-4567", "EG", "+966501234567"),   # 00 means international wherever the store is
    ("0501234567", "SA", "+966501234567"),
    ("050 123 4567", "SA", "+966501234567"),
    ("(050) 123-4567", "SA", "+966501234567"),
    ("٠٥٠١٢٣٤٥٦٧", "SA", "+966501234567"),          # Arabic-Indic digits
    ("۰۵۰۱۲۳۴۵۶۷", "SA", "+966501234567"),          # Persian digits
    ("+٩٦٦ ٥٠ ١٢٣ ٤٥٦٧", "SA", "+966501234567"),
    ("  +966 55 123 4567  ", "SA", "+966551234567"),
    ("+20 10 1234 5678", "SA", "+201012345678"),    # Egypt
    ("01012345678", "EG", "+201012345678"),
    ("+971 50 123 4567", "SA", "+971501234567"),    # UAE
    ("050 123 4567", "AE", "+971501234567"),
])
def test_mobiles_normalise_to_e164(raw, region, e164):
    assert normalise_mobile(raw, region) == e164


def test_default_region_is_saudi_arabia():
    assert normalise_mobile("0501234567") == "+966501234567"


@pytest.mark.parametrize("raw", [
    "123",
    "+966 12",
    "",
    "   ",
    "+966 50 123",              # too short
    "+966 11 234 5678",         # a Riyadh landline, not a mobile
    "+966 9200 12345",          # a unified (service) number
    "+966 800 123 4567",        # toll free
    "05012345678901",           # too long
    "0501234567 ext. 12",       # an extension would be dropped silently
    "+966 50 CALL ME",          # letters
    "not a number",
    "0501234567\n0551234567",   # two numbers
])
def test_what_is_not_a_mobile_is_refused_on_the_mobile_field(raw):
    with pytest.raises(InvalidCommand) as refused:
        normalise_mobile(raw, "SA")
    assert list(refused.value.errors) == ["mobile"]
    assert refused.value.errors["mobile"][0]


@pytest.mark.parametrize("raw", [None, 966501234567, ["+966501234567"]])
def test_a_mobile_that_is_not_text_is_refused(raw):
    with pytest.raises(InvalidCommand) as refused:
        normalise_mobile(raw, "SA")
    assert list(refused.value.errors) == ["mobile"]


def test_mobile_digits_drop_the_plus():
    assert mobile_digits("+966501234567") == "966501234567"


@given(st.sampled_from(["+966 50 123 4567", "00966501234567", "0501234567", "٠٥٠١٢٣٤٥٦٧"]),
       st.sampled_from(["SA", "EG", "AE", "US"]))
def test_normalising_a_stored_mobile_changes_nothing(raw, region):
    stored = normalise_mobile(raw, "SA")
    assert normalise_mobile(stored, region) == stored


# --- search text: what the trigram index holds ---------------------------------------------


def test_search_text_holds_name_every_mobile_form_and_email():
    text = search_text("أحمد الغامدي", "+966501234567", "Ahmed.G@Example.com")
    assert text == "احمد الغامدي 966501234567 501234567 0501234567 ahmed g example com"


def test_search_text_without_email():
    assert search_text("فاطمة", "+966501234567", None) == "فاطمه 966501234567 501234567 0501234567"


def test_search_text_uses_each_country_s_own_national_form():
    assert search_text("x", "+201012345678", None).split()[1:] == ["201012345678", "1012345678", "01012345678"]
    # no trunk prefix in the US: the national form is the significant number, once
    assert search_text("x", "+16502530000", None).split()[1:] == ["16502530000", "6502530000"]


# --- query terms ---------------------------------------------------------------------------


def test_a_name_query_is_folded_into_terms():
    assert query_terms("  أحمد   الغامدي ") == ["احمد", "الغامدي"]
    assert query_terms("فاطمة") == ["فاطمه"]


@pytest.mark.parametrize("q, term", [
    ("+966 50 123", "96650123"),
    ("00966 50 123", "96650123"),
    ("٠٥٠١٢", "05012"),
    ("(050) 123-4567", "0501234567"),
    ("501234567", "501234567"),
    ("+٩٦٦٥٠", "96650"),
])
def test_a_typed_number_is_one_digit_term(q, term):
    assert query_terms(q) == [term]


def test_numbers_and_names_mix_in_one_query():
    assert query_terms("فاطمة 050-123 Riyadh") == ["فاطمه", "050123", "riyadh"]


def test_digits_inside_a_word_stay_in_the_word():
    assert query_terms("ahmed2024") == ["ahmed2024"]


@pytest.mark.parametrize("q", [None, "", "   ", "\t\n", "-- ..", "00"])
def test_an_empty_query_has_no_terms(q):
    assert query_terms(q) == []


def test_duplicate_terms_go_and_order_stays():
    assert query_terms("أحمد علي احمد إحمد علی") == ["احمد", "علي"]


def test_at_most_eight_terms():
    assert query_terms("a b c d e f g h i j") == list("abcdefgh")
    assert len(query_terms(" ".join(f"w{i}" for i in range(50)))) == MAX_QUERY_TERMS


def test_a_query_too_long_is_refused_on_q():
    assert query_terms("a" * 200)
    for q in ("a" * 201, "a " * 150, "x" * 5000):
        with pytest.raises(InvalidQuery) as refused:
            query_terms(q)
        assert list(refused.value.errors) == ["q"]


def test_a_query_that_is_not_text_is_refused():
    with pytest.raises(InvalidQuery):
        query_terms(42)


# --- the round trip: every term of a query finds the customer it names ---------------------

CUSTOMER = ("أحمد عبدالله آل مُصطفى", "+966501234567", "ahmed@example.com")
FATIMA = ("فاطمة الزهراء", "+966551234567", None)


def finds(q: str, customer) -> bool:
    text = search_text(*customer)
    return all(term in text for term in query_terms(q))


@pytest.mark.parametrize("q", [
    "احمد", "أحمد", "إحمد", "آحمد", "احمد مصطفي", "مصطفى", "مُصطَفى", "عبداللة", "ال", "اَل",
    "966501234567", "+966 50 123 4567", "00966501234567", "0501234567", "050 123", "٠٥٠١٢٣", "501234567",
    "ahmed@example.com", "AHMED", "example",
])
def test_every_way_of_typing_finds_the_customer(q):
    assert finds(q, CUSTOMER)


@pytest.mark.parametrize("q", ["فاطمه", "فاطمة", "فاطمة الزهراء", "الزهراءة", "فاطمه 055"])
def test_ta_marbuta_either_way_finds_fatima(q):
    # "الزهراءة" is a typo that folds to a *longer* word: it must not find her
    assert finds(q, FATIMA) is (q != "الزهراءة")


@pytest.mark.parametrize("q", ["محمد", "0551234567", "+966 55", "fatima", "احمد 0551"])
def test_other_queries_do_not_find_the_customer(q):
    assert not finds(q, CUSTOMER)


arabic_letters = st.text(st.sampled_from("ابتثجحخدذرسشصضطظعغفقكلمنهويءأإآٱةىؤئیکـًٌٍَُِّْ"), min_size=1, max_size=12)


@given(st.one_of(st.lists(arabic_letters, min_size=1, max_size=4).map(" ".join), st.text(max_size=60)))
def test_a_name_typed_exactly_always_finds_its_customer(name):
    assert finds(name, (name, "+966501234567", None))


def test_a_number_written_in_a_name_is_found_as_typed():
    assert finds("Branch 12-34", ("Branch 12-34", "+966501234567", None))
    assert "1234" in search_text("Branch 12-34", "+966501234567", None).split()


@given(st.sampled_from(["+966501234567", "00966501234567", "0501234567", "501234567"]),
       st.lists(st.sampled_from(["", " ", "-", " - ", "  "]), min_size=13, max_size=13),
       st.integers(3, 14))
def test_a_mobile_typed_in_pieces_finds_its_customer(form, separators, length):
    # a prefix of any written form, with separators anywhere after the first digit
    typed = form[:length]
    typed = typed[:2] + "".join(ch + sep for ch, sep in zip(typed[2:], separators))
    assert finds(typed, CUSTOMER)


# --- LIKE patterns -------------------------------------------------------------------------


@pytest.mark.parametrize("term, pattern", [
    ("احمد", "%احمد%"),
    ("100%", "%100\\%%"),
    ("a_b", "%a\\_b%"),
    ("back\\slash", "%back\\\\slash%"),
    ("\\%_", "%\\\\\\%\\_%"),
])
def test_like_patterns_escape_wildcards(term, pattern):
    assert like_pattern(term) == pattern
