"""Stores, their staff and shoppers' help-widget sessions."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from .fields import listing, text

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

class StoreView(Schema):
    id = fields.String()
    name = fields.String()
    created_at = fields.String()

class AgentCreate(Schema):
    name = text(100, required=True)
    email = fields.Email(required=True, validate=validate.Length(max=254))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))

class Agent(Schema):
    id = fields.String()
    store_id = fields.String()
    name = fields.String()
    email = fields.String()
    role = fields.String()
    token = fields.String(metadata={"description": "Bearer token of the new staff member; shown once"})
    created_at = fields.String()


AgentList = listing(Agent, "AgentList", paged=False)


class SessionCreate(Schema):
    """No fields yet: the customer is named in the path."""

class Session(Schema):
    customer_id = fields.String()
    store_id = fields.String()
    token = fields.String()
    expires_at = fields.String()
