"""A Jinja2 sandbox with a budget, for templates that stores write.

Jinja's sandbox stops a template from reaching Python internals, but not from
exhausting the worker that renders it (its documentation says so): a loop in
a loop, ``"x" * 10**9``, a recursive macro doubling a string. One delivery
loop serves every store, so a store's override gets limits:

- rendering stops after ``SECONDS`` for a whole message (checked at every
  loop step, attribute lookup, call, operator and output chunk);
- no value and no output grows past ``MAX_SIZE`` characters (or items);
- arguments of filters and string methods are small (numbers up to
  ``MAX_NUMBER``, strings up to ``MAX_ARGUMENT`` characters), so no single
  call can allocate much before its result is checked; ``range`` is limited
  the same way; ``%`` and ``format`` on strings, repeating lists, ``lipsum``
  and an ``indent`` wider than the size limit allows are refused.

Breaking a limit raises ``SecurityError``: the caller falls back to its default.
"""
from __future__ import annotations

import threading
import time
import types
from functools import wraps
from typing import Any, Iterable

from jinja2 import nodes, pass_context
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

# For all three parts of a message together: rendering does not yield to
# other green threads, so a slow override must not hold the process long.
SECONDS = 0.25
MAX_SIZE = 200_000
MAX_NUMBER = 10_000
MAX_ARGUMENT = 200


class _Deadline(threading.local):
    at = float("inf")


_deadline = _Deadline()


def _tick() -> None:
    if time.monotonic() > _deadline.at:
        raise SecurityError(f"rendering took longer than {SECONDS:g} s")


def _sized(value: Any) -> Any:
    if isinstance(value, (str, list, tuple, dict)) and len(value) > MAX_SIZE:
        raise SecurityError(f"a value grew past {MAX_SIZE} characters")
    return value


def _small(values: Iterable[Any]) -> None:
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_NUMBER:
            raise SecurityError(f"a number argument is larger than {MAX_NUMBER}")
        if isinstance(value, str) and len(value) > MAX_ARGUMENT:
            raise SecurityError(f"a text argument is longer than {MAX_ARGUMENT} characters")


def _range(*args: int) -> range:
    _small(args)
    return range(*args)


def _refused(what: str):
    def refuse(*args, **kwargs):
        raise SecurityError(f"{what} is not allowed in store templates")
    return refuse


def _widening(value: Any, args: tuple, kwargs: dict) -> None:
    """``indent`` adds its width to every line: refuse before it allocates."""
    width = args[0] if args else kwargs.get("width", 4)
    extra = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
    if isinstance(value, str) and (value.count("\n") + 1) * max(extra, 0) > MAX_SIZE:
        raise SecurityError(f"a value would grow past {MAX_SIZE} characters")


def _guard_filter(name: str, function):
    if name == "format":
        return _refused("the format filter")
    skip = 2 if getattr(function, "jinja_pass_arg", None) is not None else 1  # (context,) value

    @wraps(function)
    def guarded(*args, **kwargs):
        _tick()
        _small(args[skip:])
        _small(kwargs.values())
        if name == "indent":
            _widening(args[skip - 1], args[skip:], kwargs)
        return _sized(function(*args, **kwargs))
    return guarded


@pass_context
def _stepped(context, iterable):
    """Every loop's iterable goes through here (see ``_parse``): a tick per step."""
    for item in iterable:
        _tick()
        yield item


class BudgetSandbox(ImmutableSandboxedEnvironment):
    """The sandbox for untrusted templates; render them with ``render_within``."""

    intercepted_binops = frozenset({"+", "*", "**", "%"})

    def __init__(self, **options):
        super().__init__(**options)
        self.globals.pop("lipsum", None)  # generates text without passing any check
        self.globals["range"] = _range
        self.filters = {name: _guard_filter(name, f) for name, f in self.filters.items()}
        self.filters["_stepped"] = _stepped

    def add_filter(self, name: str, function) -> None:
        self.filters[name] = _guard_filter(name, function)

    def _parse(self, source, name, filename):
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, "_stepped", [], [], None, None, lineno=loop.lineno)
        return tree

    def call_binop(self, context, operator, left, right):
        _tick()
        if operator == "%" and isinstance(left, str):
            raise SecurityError("'%' formatting is not allowed in store templates")
        if operator == "*":
            for sequence, times in ((left, right), (right, left)):
                if isinstance(sequence, (list, tuple)) and isinstance(times, int):
                    raise SecurityError("repeating a list is not allowed in store templates")
                if isinstance(sequence, str) and isinstance(times, int) and len(sequence) * times > MAX_SIZE:
                    raise SecurityError(f"a value grew past {MAX_SIZE} characters")
        if operator == "**" and isinstance(left, int) and isinstance(right, int):
            if abs(right) > MAX_NUMBER or left.bit_length() * abs(right) > 64 * MAX_NUMBER:
                raise SecurityError("a power is too large")
        if operator == "+" and isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
            _sized(left), _sized(right)
        return _sized(super().call_binop(context, operator, left, right))

    def getattr(self, obj, attribute):
        _tick()
        return _sized(super().getattr(obj, attribute))

    def getitem(self, obj, argument):
        _tick()
        return _sized(super().getitem(obj, argument))

    def wrap_str_format(self, value):
        wrapped = super().wrap_str_format(value)
        return None if wrapped is None else _refused("str.format")

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 (Jinja's signature)
        _tick()
        if isinstance(__obj, types.BuiltinMethodType) and isinstance(__obj.__self__, str):
            _small(args)
            _small(kwargs.values())
            if __obj.__name__ == "join":
                _small([__obj.__self__])
        else:  # a macro or a global: its own steps are checked as it runs
            for value in (*args, *kwargs.values()):
                _sized(value)
        return _sized(super().call(__context, __obj, *args, **kwargs))


def render_within(template, context: dict, seconds: float = SECONDS, deadline: float | None = None) -> str:
    """Render ``template`` (of a ``BudgetSandbox``) within the time and size
    budget; ``deadline`` (a ``time.monotonic()``) shares one budget between parts."""
    _deadline.at = deadline if deadline is not None else time.monotonic() + seconds
    try:
        size, parts = 0, []
        for chunk in template.generate(context):
            size += len(chunk)
            if size > MAX_SIZE:
                raise SecurityError(f"the output grew past {MAX_SIZE} characters")
            _tick()
            parts.append(chunk)
        return "".join(parts)
    finally:
        _deadline.at = float("inf")
