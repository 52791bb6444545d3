"""Folding free text so people find it however they type it: one pure
function that every service may use on both sides of a comparison (what is
stored and what is asked for), so whatever it merges, it merges consistently.

"أحمد", "احمد" and "إحمد" fold to one word; Persian and Urdu keyboards'
own yeh, kaf and heh fold to the Arabic letters; Arabic-Indic and Persian
digits to ASCII; case, tashkeel and tatweel disappear; punctuation is a space.
The customers service searches cards with it; the tickets service's rules
match subjects and bodies with it.
"""
from __future__ import annotations

import unicodedata

# tashkeel (harakat, tanween, shadda, sukun, hamza marks), superscript alef, tatweel
_DROP = frozenset([chr(c) for c in range(0x064B, 0x0660)] + ["\u0670", "\u0640"])
_LETTERS = {
    # alef with hamza above/below, with madda, wasla -> bare alef
    "أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا",
    "ة": "ه",            # ta marbuta is typed as heh as often as not
    "ى": "ي",            # alef maksura vs yeh at the end of a word
    "ؤ": "و", "ئ": "ي",  # hamza seats
    # Persian and Urdu keyboards type their own yeh, kaf and heh
    "ی": "ي", "ک": "ك", "ڪ": "ك", "ۀ": "ه", "ہ": "ه", "ۃ": "ه", "ە": "ه",
}


def _fold_char(ch: str) -> str:
    """One character after NFKC and casefold: dropped, mapped, a space, or itself."""
    if ch in _DROP:
        return ""
    mapped = _LETTERS.get(ch)
    if mapped is not None:
        return mapped
    category = unicodedata.category(ch)
    if category == "Nd":
        return str(unicodedata.decimal(ch))  # Arabic-Indic, Persian, Devanagari, ... -> ASCII
    if category[0] in "PSZ" or category == "Cc":
        return " "  # punctuation and symbols separate words, like spaces
    if category == "Cf":
        return ""  # ZWNJ, bidi marks, BOM: invisible, and typed inconsistently
    return ch


def fold_text(text: str) -> str:
    """The search form of free text: compatibility forms, case, Arabic spelling
    variants and digit scripts folded; punctuation a space; whitespace collapsed."""
    # casefold can undo NFKC's composition (e.g. "ǰ"), so normalise again after it.
    text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return " ".join("".join(_fold_char(ch) for ch in text).split())
