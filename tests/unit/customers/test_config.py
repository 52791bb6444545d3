"""The customers service's settings (services.customers.config): read once
from the environment; a bad FRAUD_RULES is refused there, naming itself."""
from __future__ import annotations

import json

import pytest

from services.customers.config import DEFAULT_STOREFRONT_BASE_URL, CustomersConfig
from services.customers.fraud.rules import DEFAULT_RULES


def test_nothing_set_means_the_default_rules_and_storefront():
    assert CustomersConfig.from_env({}) == CustomersConfig(DEFAULT_RULES, DEFAULT_STOREFRONT_BASE_URL)


def test_the_rules_and_the_storefront_come_from_the_environment():
    rules = [{"code": "two_refusals", "evidence": "cod_refused_or_returned", "threshold": 2, "distinct": "ref",
              "window_days": 30}]
    config = CustomersConfig.from_env({"FRAUD_RULES": json.dumps(rules),
                                       "STOREFRONT_BASE_URL": "https://stores.example"})
    assert [(r.code, r.threshold) for r in config.fraud_rules] == [("two_refusals", 2)]
    assert config.storefront_base_url == "https://stores.example"


@pytest.mark.parametrize("raw", ["not json", "{}", '[{"code": "x"}]'])
def test_bad_rules_stop_the_service_with_a_message_naming_the_variable(raw):
    with pytest.raises(ValueError, match="FRAUD_RULES"):
        CustomersConfig.from_env({"FRAUD_RULES": raw})
