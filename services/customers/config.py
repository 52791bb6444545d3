"""The customers service's settings from the environment, read once when
the service starts (``seedwork.nameko_ext.Application``): a bad value stops
it with a message naming the variable.

- ``FRAUD_RULES``: the fraud watch's rules as JSON (unset: the defaults;
  ``[]``: no rules), see ``fraud/rules.py`` and docs/customers.md.
- ``STOREFRONT_BASE_URL``: where a store without its own ``storefront_url``
  setting has its pages; rating links point at ``<base>/<store_id>/ratings``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

from .fraud.rules import DEFAULT_RULES, Rule, load_rules

DEFAULT_STOREFRONT_BASE_URL = "http://localhost:8080/stores"


@dataclass(frozen=True)
class CustomersConfig:
    fraud_rules: tuple[Rule, ...] = DEFAULT_RULES
    storefront_base_url: str = DEFAULT_STOREFRONT_BASE_URL

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "CustomersConfig":
        return cls(fraud_rules=load_rules(env.get("FRAUD_RULES")),
                   storefront_base_url=env.get("STOREFRONT_BASE_URL", DEFAULT_STOREFRONT_BASE_URL))
