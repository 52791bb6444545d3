"""The committed API document is the one the code generates (no drift)."""
import json
from pathlib import Path

from services.gateway.openapi import openapi_document
from services.gateway.service import GatewayService

ROOT = Path(__file__).resolve().parents[2]


def test_docs_openapi_json_is_what_the_gateway_serves():
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))
    assert committed == openapi_document(GatewayService), "run `make openapi` and commit docs/openapi.json"


def test_every_event_type_the_services_name_is_in_the_catalogue():
    """docs/events.md lists every type: a new event without its row fails here."""
    import re
    named = set()
    for path in (ROOT / "services").rglob("*.py"):
        prefixes = ("ticket|store|agent|customer|customer_group|customer_settings|order|shopper|notification"
                    "|webhook_endpoint|sla|view|team|topic|agent_profile|agent_settings|sla_policy|rule|report_settings")
        named |= set(re.findall(rf'"((?:{prefixes})\.[a-z_]+)"', path.read_text(encoding="utf-8")))
    catalogue = set(re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \| \d+ \|", (ROOT / "docs" / "events.md").read_text(
        encoding="utf-8"), re.MULTILINE))
    assert len(named) >= 30, sorted(named)  # the scan itself works
    assert named - catalogue == set(), "add these to docs/events.md's catalogue"
