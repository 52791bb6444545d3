"""What logs and lists show of a person's mobile number: its last four
digits (``+966501234567`` is ``•••••••••4567``). Card numbers in free text
are ``cards``' concern."""
from __future__ import annotations


def mask_mobile(mobile: str | None) -> str:
    text = str(mobile or "")
    return "•" * max(len(text) - 4, 0) + text[-4:]
