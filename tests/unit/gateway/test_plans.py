"""A store's plan limits as the gateway keeps them (services/gateway/plans.py): what
the platform may set, and the refusal that names the limit."""
from __future__ import annotations

import pytest

from seedwork.errors import Conflict, InvalidCommand
from services.gateway import plans


def test_a_plan_sets_each_limit_or_leaves_it_unlimited():
    assert plans.clean_limits({}) == {"staff_seats": None, "teams": None, "topics": None}
    # The free plan of seed 004: two users and two categories.
    assert plans.clean_limits({"staff_seats": 2, "topics": 2}) == {"staff_seats": 2, "teams": None, "topics": 2}
    assert plans.clean_limits({"staff_seats": 0, "teams": None, "topics": 1_000_000})["staff_seats"] == 0


@pytest.mark.parametrize("sent, field", [
    ([], "limits"), ({"seats": 2}, "limits.seats"), ({"teams": -1}, "limits.teams"),
    ({"topics": 1_000_001}, "limits.topics"), ({"staff_seats": True}, "limits.staff_seats"),
    ({"teams": "2"}, "limits.teams"), ({"teams": 2.0}, "limits.teams"),
])
def test_a_limit_is_an_integer_from_0_to_a_million_or_null(sent, field):
    with pytest.raises(InvalidCommand) as info:
        plans.clean_limits(sent)
    assert list(info.value.errors) == [field]


def test_one_more_than_the_plan_allows_is_refused_naming_the_limit():
    plans.check_room(plans.unlimited(), "staff_seats", 10_000)
    plans.check_room({"staff_seats": 2}, "staff_seats", 1)
    with pytest.raises(Conflict) as info:
        plans.check_room({"staff_seats": 2}, "staff_seats", 2)
    assert (info.value.code, info.value.errors) == ("plan_limit_reached",
                                                    {"staff_seats": ["the plan allows 2 staff seats"]})
    with pytest.raises(Conflict) as info:
        plans.check_room({"teams": 1}, "teams", 1)
    assert info.value.detail == "the plan allows 1 team"
