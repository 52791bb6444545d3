"""``python -m services.gateway openapi``: the OpenAPI document the gateway
serves, for ``make openapi`` (docs/openapi.json)."""
from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.gateway")
    parser.add_argument("command", choices=["openapi"])
    parser.parse_args(argv)
    from seedwork.launch import quiet_eventlet_notice

    quiet_eventlet_notice()  # not the reader's concern here
    from .openapi import openapi_document
    from .service import GatewayService

    print(json.dumps(openapi_document(GatewayService), indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
