"""How a store's staff work tickets (services/tickets/domain/agent_settings.py)."""
import pytest

from seedwork.errors import InvalidCommand
from services.tickets.domain import agent_settings as rules


def test_defaults_every_agent_sees_every_ticket_and_tickets_on_no_team_wait_for_a_person():
    assert rules.with_defaults({}) == {"ticket_visibility": "all", "assignment_mode": "manual"}
    assert not rules.is_team_scoped(rules.with_defaults({}), "agent")


def test_team_scoping_applies_to_agents_never_to_owners_and_admins():
    scoped = rules.with_defaults({"ticket_visibility": "teams"})
    assert rules.is_team_scoped(scoped, "agent")
    assert not rules.is_team_scoped(scoped, "admin") and not rules.is_team_scoped(scoped, "owner")


def test_a_patch_changes_only_what_differs():
    settings, changes = rules.merge_settings({"ticket_visibility": "all"}, {"ticket_visibility": "teams",
                                                                            "assignment_mode": "manual"})
    assert settings == {"ticket_visibility": "teams", "assignment_mode": "manual"}
    assert changes == {"ticket_visibility": "teams"}


@pytest.mark.parametrize("patch, field", [
    ({"ticket_visibility": "mine"}, "ticket_visibility"),
    ({"assignment_mode": "random"}, "assignment_mode"),
    ({"colour": "red"}, "colour"),
    ({}, "ticket_visibility"),
])
def test_a_bad_patch_names_its_field(patch, field):
    with pytest.raises(InvalidCommand) as refused:
        rules.clean_settings_patch(patch)
    assert field in refused.value.errors
