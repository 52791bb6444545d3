"""Notifications service entrypoints (email, SMS and webhooks arrive with the
notifications issue)."""
from nameko.rpc import rpc

from seedwork.nameko_ext import EventSourcing


class NotificationsService:
    name = "notifications"

    db = EventSourcing()

    @rpc
    def health(self):
        return self.db.health()
