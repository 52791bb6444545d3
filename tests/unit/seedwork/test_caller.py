"""The caller every service receives: typed from the dict RPC carries, with
the actor its events record and the scope its idempotency keys live in."""
import pytest

from seedwork.caller import PLATFORM, Caller, system
from seedwork.envelope import Actor

OWNER = Caller("agent", "ag-1", "st-1", "owner")
SHOPPER = Caller("customer", "cu-1", "st-1", "customer")


def test_a_caller_travels_as_a_dict_and_comes_back_the_same():
    assert Caller.of(OWNER.to_dict()) == OWNER
    assert Caller.of(OWNER) is OWNER
    assert OWNER.to_dict() == {"store_id": "st-1", "kind": "agent", "id": "ag-1", "role": "owner"}


@pytest.mark.parametrize("bad", [None, "owner", {}, {"kind": "agent"}, {"role": "owner"},
                                 {"kind": "robot", "role": "owner"}, {"kind": "agent", "role": "boss"}])
def test_anything_else_is_not_a_caller(bad):
    with pytest.raises(ValueError):
        Caller.of(bad)


def test_the_store_staff_are_its_owner_admins_and_agents():
    assert [c.is_staff for c in (OWNER, Caller("agent", "a", "s", "admin"), Caller("agent", "a", "s", "agent"))] \
        == [True, True, True]
    assert not SHOPPER.is_staff and not PLATFORM.is_staff and not system("st-1", "self-service").is_staff
    assert SHOPPER.is_customer and PLATFORM.is_platform and not OWNER.is_platform


def test_the_actor_of_its_events_and_the_scope_of_its_keys():
    assert OWNER.actor == Actor("agent", "ag-1")
    assert PLATFORM.actor == Actor("platform")
    assert system("st-1", "self-service").actor == Actor("system", "self-service")
    # Two shoppers of one store, or one id in two stores, never share a key.
    assert SHOPPER.scope == "st-1:customer:cu-1"
    assert len({SHOPPER.scope, Caller("customer", "cu-2", "st-1", "customer").scope,
                Caller("customer", "cu-1", "st-2", "customer").scope}) == 3
