"""Teams (departments) of a store and their members."""
from __future__ import annotations

from marshmallow import Schema, fields

from .fields import ID, AtLeastOneField, listing, text

MODES = ("manual", "round_robin", "least_loaded")  # a mirror of the tickets domain's: it checks them again


class Assignment(Schema):
    mode = fields.String(metadata={"description": "manual, round_robin or least_loaded"})


class TeamCreate(Schema):
    name = text(100, required=True, metadata={"description": "unique in the store (case aside)"})
    description = text(500, allow_none=True)
    assignment = fields.Nested(Assignment, metadata={"description": "how its tickets are assigned; manual by default"})


class TeamUpdate(AtLeastOneField):
    nothing_sent = "send name, description or assignment"

    name = text(100)
    description = text(500, allow_none=True)
    assignment = fields.Nested(Assignment)


class MemberRequest(Schema):
    agent_id = fields.String(required=True, validate=ID, metadata={"description": "a staff member of the store"})


class Team(Schema):
    id = fields.String()
    name = fields.String()
    description = fields.String(allow_none=True)
    members = fields.List(fields.String(), metadata={"description": "agent ids, in the order they joined"})
    assignment = fields.Nested(Assignment)
    version = fields.Integer()
    created_at = fields.String()
    updated_at = fields.String()


TeamList = listing(Team, "TeamList", paged=False)
