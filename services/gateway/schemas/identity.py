"""Stores, their staff and shoppers' help-widget sessions."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from .fields import AtLeastOneField, StrictInteger, answer, listing, text

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
               token=fields.String(metadata={"description": "Bearer token of the new staff member; shown once"}),
               availability=fields.String(metadata={"description": "online, away or offline (the default)"}),
               capacity=fields.Integer(allow_none=True, metadata={
                   "description": "the most open tickets assigned at once; null: no limit"}),
               skills=fields.List(fields.String()),
               teams=fields.List(fields.String(), metadata={"description": "the ids of the teams they are in"}))


class AgentProfileUpdate(AtLeastOneField):
    """An agent changes their own availability; the owner and admins change anything of anyone's."""

    nothing_sent = "send availability, capacity or skills"

    availability = fields.String(metadata={"description": "online, away or offline"})
    capacity = StrictInteger(strict=True, allow_none=True, metadata={"description": "0..1000; null: no limit"})
    skills = fields.List(fields.String(), metadata={"description": "slugs, at most 50; replaces the list"})


AgentList = listing(Agent, "AgentList", paged=False)


Session = answer("Session", "customer_id store_id token expires_at")


class PlanLimits(Schema):
    staff_seats = StrictInteger(strict=True, allow_none=True, metadata={
        "description": "staff members, the owner included; null: no limit"})
    teams = StrictInteger(strict=True, allow_none=True, metadata={"description": "null: no limit"})
    topics = StrictInteger(strict=True, allow_none=True, metadata={"description": "contact topics; null: no limit"})


class PlanUpdate(Schema):
    limits = fields.Nested(PlanLimits, required=True, metadata={"description": "a limit left out is null: none"})


class StorePlan(Schema):
    store_id = fields.String()
    limits = fields.Nested(PlanLimits)
    updated_at = fields.String(allow_none=True, metadata={"description": "null: never set (no limits)"})
