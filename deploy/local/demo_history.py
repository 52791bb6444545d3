"""Three weeks of ticket history for the demo store, so every report shows
something: tickets opened over the past days, answered after minutes or
hours, solved, some reopened, some rated, on the store's topics and teams,
some about orders (their products come from the orders the demo pushed).

The API cannot say "this happened last week", so this writes through the
tickets service's own code (``services.tickets.application.build``) on its
own schema, with a clock set to each moment in turn: the same decisions,
events and projections as a request would make. The relay then publishes the
events like any others, and the reports service hears them.

    python deploy/local/demo_history.py  (called by deploy/local/demo.py)
"""
from __future__ import annotations

import random
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from seedwork import config, db  # noqa: E402
from seedwork.caller import Caller  # noqa: E402
from seedwork.store import EventStore  # noqa: E402

DAYS = 21
SUBJECTS = (  # (subject, body, type, tag)
    ("تأخر الطلب", "طلبي متأخر ثلاثة أيام ولم يصلني رقم التتبع", "order_delayed", "shipping"),
    ("وين الطلب", "متى يوصل الطلب؟ الشحن متأخر", "order_delayed", "shipping"),
    ("استبدال المقاس", "المقاس صغير وأريد استبدال العباية بمقاس أكبر", "product_exchange", "size"),
    ("سفارشم دیر شده است", "سفارش من هنوز نرسیده است، ارسال دیر شده", "order_delayed", "shipping"),
    ("خصم مرتين", "تم خصم المبلغ مرتين من البطاقة", "general", "billing"),
    ("استرجاع المبلغ", "أريد استرجاع المبلغ، المنتج وصل تالف", "general", "refund"),
    ("Wrong size delivered", "I ordered a large abaya and received a small one", "product_exchange", "size"),
    ("Refund not received", "The refund for my returned order has not arrived", "general", "refund"),
    ("كود الخصم لا يعمل", "كود الخصم لا يعمل عند الدفع", "general", "billing"),
    ("تغییر آدرس", "می‌خواهم آدرس ارسال را تغییر دهم", "general", "shipping"),
)


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def __call__(self) -> datetime:
        return self.now


def write(store_id: str, staff: list[tuple[str, str, str | None]], topics: list[str], customers: list[str],
          orders: list[tuple[str, str]], days: int = DAYS, seed: int = 2026) -> int:
    """Tickets over the ``days`` before now; returns how many.

    ``staff``: (agent id, role, team id or None); ``topics``: topic ids;
    ``customers``: customer ids; ``orders``: (order id, its customer's id)."""
    from services.tickets.application import build

    settings = config.load("tickets")
    pool = db.make_pool(settings.database_url, max_size=2, name="demo-history")
    clock = Clock()
    tickets = build(EventStore(pool, settings.schema), clock=clock)
    rng = random.Random(seed)
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=days)
    written = 0
    try:
        for day in range(days):
            for _ in range(rng.randint(3, 8)):
                opened = start + timedelta(days=day, hours=rng.uniform(4, 18))  # 07:00-21:00 in Riyadh
                one_ticket(tickets, clock, rng, store_id, staff, topics, customers, orders, opened)
                written += 1
    finally:
        pool.close()
    return written


def one_ticket(tickets, clock, rng, store_id, staff, topics, customers, orders, opened: datetime) -> None:
    subject, body, kind, tag = rng.choice(SUBJECTS)
    fields = {"subject": subject, "body": body, "type": kind, "priority": rng.choice(
        ("normal", "normal", "normal", "high", "low", "urgent"))}
    customer_id = rng.choice(customers)
    if kind != "general" and orders and rng.random() < 0.7:
        order_id, customer_id = rng.choice(orders)
        fields["order_id"] = order_id
    if topics and rng.random() < 0.6:
        fields["topic_id"] = rng.choice(topics)
    agent_id, role, team = rng.choice(staff)
    agent = Caller("agent", agent_id, store_id, role)
    shopper = Caller("customer", customer_id, store_id, "customer")
    clock.now = opened
    if rng.random() < 0.25:  # by email or phone: staff open it for the shopper
        ticket = tickets.writes.open(agent, {**fields, "customer_id": customer_id,
                                             "channel": rng.choice(("email", "phone"))})["ticket"]
    else:
        ticket = tickets.writes.open(shopper, fields)["ticket"]
    ticket_id = ticket["id"]

    def at(minutes: float, who: Caller, *steps) -> None:
        clock.now = clock.now + timedelta(minutes=minutes)
        if clock.now < datetime.now(timezone.utc):  # the future has not happened
            tickets.writes.execute(who, ticket_id, list(steps))

    # A ticket on a topic stays on the topic's team; one on none goes to the agent's.
    at(rng.uniform(1, 20), agent, ["assign", {"assignee_id": agent_id, **(
        {"team": team} if team and "topic_id" not in fields else {})}])
    if rng.random() < 0.1:
        return  # still waiting for its first answer
    at(rng.choice((rng.uniform(5, 60), rng.uniform(60, 600))), agent, ["add_tag", {"tag": tag}],
       ["reply", {"body": "شكراً لتواصلك، نتابع طلبك الآن."}])
    if rng.random() < 0.35:  # the shopper asks again, and is answered again
        at(rng.uniform(30, 300), shopper, ["reply", {"body": "أي جديد؟"}])
        at(rng.uniform(10, 240), agent, ["reply", {"body": "تم التواصل مع شركة الشحن، يصلك غداً."}])
    if rng.random() < 0.15:
        return  # answered, not solved yet
    at(rng.uniform(10, 600), agent, ["change_status", {"status": "solved"}])
    if rng.random() < 0.15:  # not sorted after all: the shopper's reply reopens it
        at(rng.uniform(60, 2000), shopper, ["reply", {"body": "المشكلة ما زالت موجودة"}])
        at(rng.uniform(10, 300), agent, ["reply", {"body": "نعتذر، أرسلنا البديل اليوم."}],
           ["change_status", {"status": "solved"}])
    if rng.random() < 0.6:
        at(rng.uniform(5, 600), shopper, ["rate", {"score": rng.choice((5, 5, 5, 4, 4, 3, 2, 1))}])


if __name__ == "__main__":
    raise SystemExit("call write() from deploy/local/demo.py")
