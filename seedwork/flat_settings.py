"""A store's settings that are one flat mapping of names to values, each with
a default (the agent settings, the report settings): what ``SettingsRules``'
``with_defaults`` and ``merge_settings`` do for them, written once. Plain
Python, for the services' domain modules."""
from __future__ import annotations

import copy
from typing import Any, Mapping


def with_defaults(defaults: Mapping[str, Any], stored: Mapping[str, Any]) -> dict:
    """The stored settings over the defaults; a stored name no longer known is dropped."""
    return {**copy.deepcopy(dict(defaults)), **{k: v for k, v in stored.items() if k in defaults}}


def merged(defaults: Mapping[str, Any], current: Mapping[str, Any], patch: Mapping[str, Any]) -> tuple[dict, dict]:
    """``(settings, changes)``: a cleaned ``patch`` applied to ``current``; ``changes`` only what differs."""
    settings = with_defaults(defaults, current)
    changes = {k: v for k, v in patch.items() if settings.get(k) != v}
    settings.update(changes)
    return settings, changes
