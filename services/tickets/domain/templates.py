"""Texts with ``{name}`` placeholders: the store's self-service messages and
its canned responses. ``{{`` and ``}}`` are literal braces. They are filled
by this small parser, never ``str.format``: a stored text must not reach
attributes or indexes of the values. Plain Python.
"""
from __future__ import annotations

import re

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_NAME = re.compile(r"[a-z_]+\Z")


def _parse(template: str, strict: bool) -> list[tuple[bool, str]]:
    """``template`` as ``(is_placeholder, text)`` parts. Malformed braces raise
    ``ValueError`` when ``strict``, else stay as they are. Messages never echo
    the bad token: it could hold a card number."""
    parts, cursor = [], 0
    for match in _TOKEN.finditer(template):
        parts.append((False, template[cursor:match.start()]))
        cursor = match.end()
        token, name = match.group(), match.group(1)
        where = f"at character {match.start() + 1}"
        if token in ("{{", "}}"):
            parts.append((False, token[0]))
        elif name is not None and _NAME.match(name):
            parts.append((True, name))
        elif not strict:
            parts.append((False, token))
        elif name == "":
            raise ValueError(f"empty placeholder {{}} {where}; write {{{{ and }}}} for literal braces")
        elif name is not None:
            raise ValueError(f"a placeholder {where} is not lowercase letters and _; "
                             f"write {{{{ and }}}} for literal braces")
        else:
            raise ValueError(f"unbalanced {token} {where}; write {token * 2} for a literal brace")
    parts.append((False, template[cursor:]))
    return parts


def placeholders(template: str) -> set[str]:
    """The names in ``template``; ``ValueError`` (readable) when it is malformed."""
    return {text for is_name, text in _parse(template, strict=True) if is_name}


def render(template: str, values: dict[str, object]) -> str:
    """``template`` filled from ``values``; a missing or ``None`` value is ""."""
    return "".join(_shown(values.get(text)) if is_name else text for is_name, text in _parse(template, strict=False))


def _shown(value: object) -> str:
    return "" if value is None else str(value)
