"""Folding free text (seedwork/text.py): one spelling for what people type many ways."""
from seedwork.text import fold_text


def test_arabic_spelling_variants_fold_to_one_form():
    assert fold_text("أحمد") == fold_text("احمد") == fold_text("إحمد") == "احمد"
    assert fold_text("مَدْرَسَة") == fold_text("مدرسه")  # tashkeel gone, ta marbuta as heh
    assert fold_text("مصطفى") == fold_text("مصطفي")
    assert fold_text("ســلام") == "سلام"  # tatweel


def test_persian_keyboards_letters_and_digits_fold_to_the_arabic_and_ascii_ones():
    assert fold_text("کیک") == fold_text("كيك")
    assert fold_text("۱۲۳") == fold_text("١٢٣") == "123"


def test_case_punctuation_and_spaces():
    assert fold_text("  FREE-Money!!  now ") == "free money now"
    assert fold_text("\u200cسلام\u200f") == "سلام"  # ZWNJ and bidi marks are invisible
