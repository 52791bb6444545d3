"""Category rules: conditions on a new ticket and the priority, team and tags
they give it (docs/agent-operations/rules.md). ``conditions`` and ``actions``
come in as objects: the tickets service's domain (``domain/rules.py``) checks
them and answers 422 naming the path (``conditions.all[0].op``)."""
from __future__ import annotations

from marshmallow import Schema, fields

from .fields import AtLeastOneField, StrictBoolean, StrictInteger, listing, text

CONDITIONS = {"description": "{\"all\": [{\"field\", \"op\", \"value\"}, ...]}: 1 to 20 conditions, all of which a "
                             "new ticket must meet. field: type, topic_id, team_id, channel, priority (ops is, "
                             "is_not, in), tag, customer_group (a group's id; ops is, is_not, in), subject, body "
                             "(op contains: a text or a list of texts, any of which; case and Arabic letter "
                             "variants folded)"}
ACTIONS = {"description": "{\"priority\"?, \"team_id\"?, \"add_tags\"?: [...]}: at least one; team_id a team of "
                          "the store; up to 10 tags (a tag spam sends the ticket to the spam view)"}
POSITION = {"description": "the order rules apply in (0..10000, low first; ties: oldest first); default: after the "
                           "store's last rule"}


class RuleCreate(Schema):
    name = text(100, required=True)
    position = StrictInteger(strict=True, allow_none=True, metadata=POSITION)
    enabled = StrictBoolean(metadata={"description": "default true; a disabled rule does nothing"})
    conditions = fields.Dict(required=True, metadata=CONDITIONS)
    actions = fields.Dict(required=True, metadata=ACTIONS)


class RuleUpdate(AtLeastOneField):
    nothing_sent = "send name, position, enabled, conditions or actions"

    name = text(100)
    position = StrictInteger(strict=True, metadata=POSITION)
    enabled = StrictBoolean()
    conditions = fields.Dict(metadata={"description": "replaces the conditions"})
    actions = fields.Dict(metadata={"description": "replaces the actions"})


class Condition(Schema):
    field = fields.String()
    op = fields.String()
    value = fields.Raw(metadata={"description": "a string, or a list of strings (in; contains)"})


class Conditions(Schema):
    all = fields.List(fields.Nested(Condition))


class RuleActions(Schema):
    priority = fields.String()
    team_id = fields.String()
    add_tags = fields.List(fields.String())


class Rule(Schema):
    id = fields.String()
    name = fields.String()
    position = fields.Integer()
    enabled = fields.Boolean()
    conditions = fields.Nested(Conditions)
    actions = fields.Nested(RuleActions)
    version = fields.Integer()
    created_at = fields.String()
    updated_at = fields.String()


RuleList = listing(Rule, "RuleList", paged=False)
