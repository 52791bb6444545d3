"""Contact topics: what a shopper picks in the help widget ("Customer service",
"Technical support"), each handled by a team of the store."""
from __future__ import annotations

from marshmallow import Schema, fields

from .fields import ID, AtLeastOneField, StrictInteger, listing, text

LOCALIZED = "texts by locale, e.g. {\"ar\": \"خدمة العملاء\", \"en\": \"Customer service\"}"


def localized(max_length: int, **kwargs) -> fields.Dict:
    return fields.Dict(keys=fields.String(), values=text(max_length), **kwargs)


class TopicCreate(Schema):
    names = localized(100, required=True, metadata={"description": f"{LOCALIZED}; at least one"})
    descriptions = localized(1000, allow_none=True, metadata={"description": "in locales the names have"})
    team_id = fields.String(validate=ID, allow_none=True, metadata={"description": "the team of the store that "
                                                                                   "handles it"})
    email = text(254, masked=False, allow_none=True, metadata={"description": "the topic's support email"})
    position = StrictInteger(strict=True, metadata={"description": "its place in the widget (0..10000, low first)"})


class TopicUpdate(AtLeastOneField):
    nothing_sent = "send names, descriptions, team_id, email or position"

    names = localized(100, metadata={"description": "replaces the names"})
    descriptions = localized(1000, allow_none=True, metadata={"description": "replaces the descriptions"})
    team_id = fields.String(validate=ID, allow_none=True)
    email = text(254, masked=False, allow_none=True)
    position = StrictInteger(strict=True)


class Topic(Schema):
    """A shopper gets ``id``, ``names``, ``descriptions``, ``email`` and ``position``; staff get the rest."""

    id = fields.String()
    names = fields.Dict()
    descriptions = fields.Dict()
    team_id = fields.String(allow_none=True, metadata={"description": "staff only"})
    email = fields.String(allow_none=True)
    position = fields.Integer()
    version = fields.Integer(metadata={"description": "staff only"})
    created_at = fields.String(metadata={"description": "staff only"})
    updated_at = fields.String(metadata={"description": "staff only"})


TopicList = listing(Topic, "TopicList", paged=False)


class TopicUnread(Schema):
    topic_id = fields.String(allow_none=True, metadata={"description": "null: the tickets opened on no topic"})
    unread = fields.Integer(metadata={
        "description": "unsolved tickets (spam left out) with a customer message the caller has not read"})


class TopicUnreadList(Schema):
    items = fields.List(fields.Nested(TopicUnread), metadata={
        "description": "the store's topics in their order, then any deleted topic tickets still carry, then null"})
    total = fields.Integer(metadata={"description": "the tickets counted, whatever their topic"})
