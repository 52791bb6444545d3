"""Values a template may be given, shared by the template tests."""

# The context the dispatcher builds (recipients.Recipients.context): every documented
# variable, the store's branding and the ticket as the replica knows it.
CONTEXT = {
    "body": "My parcel has not arrived yet.",
    "tracking_url": "https://track.example.test/p/123",
    "order": {"id": "ord-77", "status": "delivering", "total": "149.50", "currency": "SAR",
              "items": [{"name": "Blue Kettle", "quantity": 2, "price": "50.00", "sku": "K-1"}],
              "tracking_url": "https://track.example.test/p/123"},
    "order_id": "ord-77",
    "link": "https://shop.example.test/ratings?orders=ord-77",
    "message": None,
    "subject": "About your order",
    "order_ids": ["ord-77"],
    "team": None,
    "alert": "webhook_failing",
    "url": "https://hooks.example.test/in",
    "last_error": "HTTP 503: unavailable",
    "channel": "email",
    "quota": 500,
    "window_start": "2026-01-01T10:00:00+00:00",
    "customer_name": "Noura",
    "agent_name": "Khalid",
    "store": {"name": "Noor Store", "brand_color": "#0a7cff", "logo_url": None},
    "ticket": {"id": "t-1", "number": 1042, "subject": "Where is my parcel?", "team": "Returns"},
    "target": "first_response",
    "due_at": "2026-01-04T12:30:00Z",  # a Sunday, 3:30 PM in Riyadh
    "time_zone": None,
    # ticket_forwarded: the note for the recipient, the messages sent, the earlier ones left out
    "note": "Could you check this parcel with the courier?",
    "messages": [
        {"author": "customer", "author_name": "Noura", "body": "My parcel has not arrived yet.",
         "created_at": "2026-01-04T09:15:00Z", "attachments": [{"filename": "receipt.png", "url": None}]},
        {"author": "agent", "author_name": "Khalid", "body": "We have asked the courier.",
         "created_at": "2026-01-04T10:05:00Z",
         "attachments": [{"filename": "waybill.pdf", "url": "https://files.example.test/waybill.pdf"}]},
    ],
    "left_out": 0,
}
