"""Stores, their staff and shoppers' help-widget sessions."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from .fields import answer, listing, text

ROLES = ("admin", "agent")  # what an owner or admin may create (the identity store decides who may create which)


class StoreCreate(Schema):
    name = text(100, required=True)
    owner_name = text(100)
    owner_email = fields.Email(validate=validate.Length(max=254))


class Store(Schema):
    id = fields.String()
    name = fields.String()
    owner_id = fields.String()
    owner_token = fields.String(metadata={"description": "Bearer token of the store's owner; shown once"})


StoreView = answer("StoreView", "id name created_at")


class AgentCreate(Schema):
    name = text(100, required=True)
    email = fields.Email(required=True, validate=validate.Length(max=254))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))


Agent = answer("Agent", "id store_id name email role created_at",
               token=fields.String(metadata={"description": "Bearer token of the new staff member; shown once"}))


AgentList = listing(Agent, "AgentList", paged=False)


Session = answer("Session", "customer_id store_id token expires_at")
