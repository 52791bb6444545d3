"""The committed API document is the one the code generates (no drift)."""
import json
from pathlib import Path

from services.gateway.openapi import openapi_document
from services.gateway.service import GatewayService

ROOT = Path(__file__).resolve().parents[2]


def test_docs_openapi_json_is_what_the_gateway_serves():
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))
    assert committed == openapi_document(GatewayService), "run `make openapi` and commit docs/openapi.json"
