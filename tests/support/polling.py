"""Waiting for what travels over the bus or waits for a retry: the one
polling helper of the tests and the bench."""
from __future__ import annotations

import time
from typing import Any, Callable, TypeVar

T = TypeVar("T")


class NotYet(AssertionError):
    """``eventually`` ran out of time (an assertion failure in a test)."""


def eventually(read: Callable[[], T], until: Callable[[T], Any] = bool, timeout: float = 10.0,
               what: str = "the condition", interval: float = 0.1,
               explain: Callable[[], str] | None = None) -> T:
    """``read()`` until ``until(value)`` holds; returns that value. After
    ``timeout`` seconds it fails naming ``what``, the last value seen and,
    with ``explain``, why the wait may have been held back."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if until(value):
            return value
        if time.monotonic() >= deadline:
            raise NotYet(f"{what} not within {timeout:g}s; last seen: {value!r}{explain() if explain else ''}")
        time.sleep(interval)
