"""Customers: search over one store of 1,000,000 cards, and a CSV import
through HTTP (the ``customers`` section: figures 9 and 10).

Part 1, search (in process): ``customer_cards`` draws the customers and
``COPY``s their cards into a scratch schema made by the customers service's
own migrations; ``customer_search`` times the service's
``Customers.cards.list`` for each query kind against a raw first page and a
raw ``LIKE`` count on the same table.

Part 2, import (through HTTP): ``customer_import`` starts the tickets,
customers and gateway processes, POSTs a CSV file of the same kind of people
to ``/v1/customers/import`` (a new store, then the same file again) and times
it against raw psycopg ``executemany`` of the same rows; also CPU per row and
peak memory.
"""
from __future__ import annotations

from .common import Scratch, Settings
from .customer_import import import_csv
from .customer_search import search
from .report import Row, Verdict


def run(settings: Settings, scratch: Scratch) -> tuple[list[Row], list[Verdict], list[str]]:
    rows, verdicts, notes = search(settings, scratch)
    r, v, n = import_csv(settings, scratch)
    return rows + r, verdicts + v, notes + n
