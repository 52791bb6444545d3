"""Payment card numbers in free text: found by the Luhn check, masked to the last four.

Shared by the gateway (masking before a request leaves it) and the tickets
domain (masking again before an event is written).
"""
from __future__ import annotations

import re

# A run of digits with single spaces or hyphens between groups. Within a run,
# whole groups adding up to 13..19 digits that pass the Luhn check are masked,
# so "4111 1111 1111 1111 123" loses the card and keeps the 123. \d is any
# Unicode decimal digit: a card typed in Persian or Arabic-Indic digits is
# masked too.

_RUN = re.compile(r"\d+(?:[ \-]\d+)*")
_GROUP = re.compile(r"\d+")
CARD_MIN, CARD_MAX = 13, 19
MASK = "•••• •••• •••• "


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = int(char)  # int() reads any Unicode decimal digit
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def redact_card_numbers(value: str) -> str:
    """``value`` with every payment card number replaced by ``•••• •••• •••• 1234``."""
    return _RUN.sub(_redact_run, value)


def _card_spans(run: str) -> list[tuple[int, int, str]]:
    groups = [(g.start(), g.end(), g.group()) for g in _GROUP.finditer(run)]
    spans, i = [], 0
    while i < len(groups):
        found, digits = None, ""
        for j in range(i, len(groups)):  # the longest card starting at group i
            digits += groups[j][2]
            if len(digits) > CARD_MAX:
                break
            if len(digits) >= CARD_MIN and luhn_valid(digits):
                found = (groups[i][0], groups[j][1], digits[-4:], j)
        if found is None:
            i += 1
            continue
        start, end, last4, j = found
        spans.append((start, end, last4))
        i = j + 1
    return spans


def _redact_run(match: re.Match) -> str:
    run = match.group()
    if sum(c.isdigit() for c in run) < CARD_MIN:
        return run
    out, cursor = [], 0
    for start, end, last4 in _card_spans(run):
        out += [run[cursor:start], MASK, last4]
        cursor = end
    out.append(run[cursor:])
    return "".join(out)


def contains_card_number(value: str) -> bool:
    return redact_card_numbers(value) != value
