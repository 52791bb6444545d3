"""A call to another service gives up at its deadline with a 503-kind error,
instead of holding the request (or the bus handler) forever."""
import eventlet
import pytest

from seedwork.errors import ServiceUnavailable
from seedwork.rpc import Deadlined


class Reply:
    def __init__(self, value, delay, log):
        self.value, self.delay, self.log = value, delay, log

    def result(self):
        eventlet.sleep(self.delay)
        self.log.append(("answered", self.value))
        return self.value


class Proxy:
    """A service whose every method answers after ``delay`` seconds; ``log`` says what happened when."""

    def __init__(self, delay):
        self.delay, self.log = delay, []

    def __getattr__(self, name):
        proxy = self

        class Method:
            def call_async(self, *args, **kwargs):
                proxy.log.append(("asked", (args, kwargs)))
                return Reply((args, kwargs), proxy.delay, proxy.log)
        return Method()


def test_an_answer_within_the_deadline_is_returned():
    tickets = Deadlined(Proxy(0), "tickets", timeout=1)
    assert tickets.get("caller", ticket_id="t-1") == (("caller",), {"ticket_id": "t-1"})


def test_no_answer_within_the_deadline_is_service_unavailable_naming_the_service():
    tickets = Deadlined(Proxy(5), "tickets", timeout=0.05)
    with pytest.raises(ServiceUnavailable) as info:
        tickets.get("caller")
    assert info.value.code == "service_unavailable" and "tickets" in info.value.detail


def test_two_calls_can_be_in_flight_at_once():
    proxy = Proxy(0.01)
    customers = Deadlined(proxy, "customers", timeout=1)
    first, second = customers.standing.call_async(1), customers.get_order.call_async(2)
    assert (first.result(), second.result()) == (((1,), {}), ((2,), {}))
    # Both questions went out before the first answer was awaited.
    assert [step for step, _ in proxy.log] == ["asked", "asked", "answered", "answered"]


def test_a_caller_travels_as_the_dict_every_service_reads():
    from seedwork.caller import Caller

    owner = Caller("agent", "ag-1", "st-1", "owner")
    tickets = Deadlined(Proxy(0), "tickets", timeout=1)
    assert tickets.list(owner, query={"caller": owner}) == ((owner.to_dict(),), {"query": {"caller": owner}})
    assert tickets.get(caller=owner) == ((), {"caller": owner.to_dict()})
