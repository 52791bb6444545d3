"""Teams (departments) of a store and their members: the tickets service keeps
them; the gateway checks that a member is staff of the store, and passes the
store's plan limits with each create."""
from __future__ import annotations

from ..routing import ADMIN, STAFF, route
from ..schemas import teams as schemas
from .base import RouteBase

TAGS = ("teams",)
TEAM = {"response": schemas.Team, "resource": "team", "etag": True, "tags": TAGS}


class TeamRoutes(RouteBase):

    @route("GET", "/v1/teams", "The store's teams", roles=STAFF, response=schemas.TeamList, tags=TAGS)
    def list_teams(self, call):
        return self.tickets.list_teams(call.caller)

    @route("POST", "/v1/teams", "Create a team", roles=ADMIN, body=schemas.TeamCreate, status=201,
           location="/v1/teams/{id}", idempotent=True, **TEAM)
    def create_team(self, call):
        limits = self.identity.plans.limits(call.caller.store_id)
        return self.tickets.create_team(call.caller, call.body, call.idempotency, limits)

    @route("GET", "/v1/teams/<team_id>", "A team and its members", roles=STAFF, **TEAM)
    def get_team(self, call, team_id):
        return {"team": self.tickets.get_team(call.caller, team_id)}

    @route("PATCH", "/v1/teams/<team_id>", "Rename a team, describe it, or change how its tickets are assigned",
           roles=ADMIN, body=schemas.TeamUpdate, if_match="team", **TEAM)
    def update_team(self, call, team_id):
        return {"team": self.tickets.update_team(call.caller, team_id, call.body, call.if_match)}

    @route("DELETE", "/v1/teams/<team_id>",
           "Delete a team (refused while tickets not yet closed are on it, or a topic names it)", roles=ADMIN,
           status=204, tags=TAGS)
    def delete_team(self, call, team_id):
        self.tickets.delete_team(call.caller, team_id)

    @route("POST", "/v1/teams/<team_id>/members", "Add a staff member to the team", roles=ADMIN,
           body=schemas.MemberRequest, **TEAM)
    def add_team_member(self, call, team_id):
        self.require_staff(call.caller, team_id, call.body["agent_id"])
        return {"team": self.tickets.add_team_member(call.caller, team_id, call.body["agent_id"])}

    @route("DELETE", "/v1/teams/<team_id>/members", "Remove a member from the team (`{agent_id}` in the body)",
           roles=ADMIN, body=schemas.MemberRequest, **TEAM)
    def remove_team_member(self, call, team_id):
        return {"team": self.tickets.remove_team_member(call.caller, team_id, call.body["agent_id"])}

    @route("DELETE", "/v1/teams/<team_id>/members/<agent_id>", "Remove a member from the team", roles=ADMIN,
           **TEAM)
    def remove_team_member_by_path(self, call, team_id, agent_id):
        return {"team": self.tickets.remove_team_member(call.caller, team_id, agent_id)}

    def require_staff(self, caller, team_id: str, agent_id: str) -> None:
        """A member is staff of the store (422 naming ``agent_id``); another
        store's team is a 404 before anything is said about the agent."""
        try:
            self.identity.require_agent(caller.store_id, agent_id)
        except Exception:
            self.tickets.get_team(caller, team_id)
            raise
