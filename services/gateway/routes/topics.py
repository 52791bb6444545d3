"""Contact topics: the store's admins write them; its staff and shoppers (the
help widget) read them, shoppers without the handling team."""
from __future__ import annotations

from ..routing import ADMIN, ANYONE_IN_STORE, STAFF, route
from ..schemas import topics as schemas
from .base import RouteBase

TAGS = ("topics",)
TOPIC = {"response": schemas.Topic, "resource": "topic", "etag": True, "tags": TAGS}


class TopicRoutes(RouteBase):

    @route("GET", "/v1/topics", "The store's contact topics, in their order (a shopper sees no team)",
           roles=ANYONE_IN_STORE, response=schemas.TopicList, tags=TAGS)
    def list_topics(self, call):
        return self.tickets.list_topics(call.caller)

    @route("GET", "/v1/topics/unread",
           "Each topic's inbox: how many unsolved tickets have customer messages the caller has not read (staff)",
           roles=STAFF, response=schemas.TopicUnreadList, tags=TAGS)
    def topics_unread(self, call):
        return self.tickets.unread_by_topic(call.caller)

    @route("POST", "/v1/topics", "Create a contact topic", roles=ADMIN, body=schemas.TopicCreate, status=201,
           location="/v1/topics/{id}", idempotent=True, **TOPIC)
    def create_topic(self, call):
        limits = self.identity.plans.limits(call.caller.store_id)
        return self.tickets.create_topic(call.caller, call.body, call.idempotency, limits)

    @route("GET", "/v1/topics/<topic_id>", "A contact topic", roles=ANYONE_IN_STORE, response=schemas.Topic,
           resource="topic", tags=TAGS)
    def get_topic(self, call, topic_id):
        return {"topic": self.tickets.get_topic(call.caller, topic_id)}

    @route("PATCH", "/v1/topics/<topic_id>", "Change a contact topic (names and descriptions are replaced whole)",
           roles=ADMIN, body=schemas.TopicUpdate, if_match="topic", **TOPIC)
    def update_topic(self, call, topic_id):
        return {"topic": self.tickets.update_topic(call.caller, topic_id, call.body, call.if_match)}

    @route("DELETE", "/v1/topics/<topic_id>", "Delete a contact topic (its tickets keep its id)", roles=ADMIN,
           status=204, tags=TAGS)
    def delete_topic(self, call, topic_id):
        self.tickets.delete_topic(call.caller, topic_id)
