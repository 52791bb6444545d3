"""Category rules, the pure part (services/tickets/domain/rules.py): what an
admin may save (422 naming the path), which tickets a rule matches, the
order rules apply in, later rules seeing what earlier ones did, and the
ticket's own events naming the rule that did it."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import pytest

from seedwork.envelope import Actor, NewEvent
from seedwork.errors import InvalidCommand
from seedwork.text import fold_text
from services.tickets.domain import rules
from services.tickets.domain.commands import OpenTicket
from services.tickets.domain.decisions import decide
from services.tickets.domain.fields import MAX_TAGS
from services.tickets.domain.ticket import fold, stored

NOW = datetime(2026, 5, 1, 9, 0, tzinfo=timezone.utc)
OWNER = Actor("agent", "ag-owner")
VIP, WHOLESALE = "grp-vip", "grp-wholesale"


def refused(sent, partial=False) -> list[str]:
    with pytest.raises(InvalidCommand) as info:
        rules.clean_rule(sent, partial=partial)
    return list(info.value.errors)


def condition(field, op, value) -> dict:
    return {"field": field, "op": op, "value": value}


def rule(name="R", *conditions, position=0, enabled=True, rule_id=None, **actions) -> dict:
    """A saved rule as the table gives it (``conditions`` ANDed)."""
    return {"id": rule_id or f"rule-{name}", "name": name, "position": position, "enabled": enabled,
            "conditions": {"all": list(conditions)}, "actions": actions}


def facts(**overrides) -> rules.Facts:
    base = dict(type="general", topic_id=None, team_id=None, channel="widget", priority="normal", tags=(),
                customer_groups=(), subject="where is my order", body="it is late")
    return rules.Facts(**{**base, **overrides})


def done(changes) -> list[tuple]:
    return [(c.rule_name, c.action, c.value) for c in changes]


# --- what may be saved ------------------------------------------------------------------------


def test_a_rule_is_checked_and_normalised():
    clean = rules.clean_rule({
        "name": "  VIP first ", "conditions": {"all": [
            condition("customer_group", "is", VIP), condition("channel", "in", ["widget", "chat", "widget"]),
            condition("tag", "is_not", " Wholesale "), condition("body", "contains", ["ربح سريع", "FREE money"]),
            condition("type", "is", "charged_without_order")]},
        "actions": {"priority": "high", "team_id": "team-vip", "add_tags": ["VIP", "vip", "first-reply"]}})
    assert clean == {
        "name": "VIP first", "enabled": True,
        "conditions": {"all": [
            condition("customer_group", "is", VIP), condition("channel", "in", ["widget", "chat"]),
            condition("tag", "is_not", "wholesale"), condition("body", "contains", ["ربح سريع", "FREE money"]),
            condition("type", "is", "charged_without_order")]},  # a reserved type may be asked about
        "actions": {"priority": "high", "team_id": "team-vip", "add_tags": ["vip", "first-reply"]}}
    # No position: the service puts it after the store's last rule.
    assert "position" not in clean and rules.next_position(None) == 0 and rules.next_position(4) == 5
    assert rules.next_position(rules.POSITION_MAX) == rules.POSITION_MAX
    assert rules.clean_rule({"name": "R", "position": 3, "enabled": False, "conditions": {"all": [
        condition("subject", "contains", "refund")]}, "actions": {"add_tags": ["refund"]}})["position"] == 3


GOOD = {"name": "R", "conditions": {"all": [condition("channel", "is", "email")]}, "actions": {"priority": "high"}}


def with_condition(*items) -> dict:
    return {**GOOD, "conditions": {"all": list(items)}}


@pytest.mark.parametrize("sent, path", [
    ({**GOOD, "name": ""}, "name"), ({**GOOD, "name": "two\nlines"}, "name"), ({**GOOD, "name": "x" * 101}, "name"),
    ({k: v for k, v in GOOD.items() if k != "name"}, "name"),
    ({**GOOD, "position": -1}, "position"), ({**GOOD, "position": True}, "position"),
    ({**GOOD, "enabled": "yes"}, "enabled"), ({**GOOD, "colour": "red"}, "colour"),
    ({**GOOD, "conditions": []}, "conditions"), ({**GOOD, "conditions": {"any": []}}, "conditions.any"),
    ({**GOOD, "conditions": {"all": []}}, "conditions.all"),
    ({**GOOD, "conditions": {"all": [GOOD["conditions"]["all"][0]] * 21}}, "conditions.all"),
    (with_condition("channel"), "conditions.all[0]"),
    (with_condition(condition("channel", "is", "email"), {"field": "colour", "op": "is", "value": "red"}),
     "conditions.all[1].field"),
    (with_condition(condition("channel", "contains", "mail")), "conditions.all[0].op"),
    (with_condition(condition("body", "is", "refund")), "conditions.all[0].op"),
    (with_condition({"field": "channel", "op": "is"}), "conditions.all[0].value"),
    (with_condition({"field": "channel", "op": "is", "value": "email", "also": 1}), "conditions.all[0].also"),
    (with_condition(condition("channel", "is", "fax")), "conditions.all[0].value"),
    (with_condition(condition("priority", "is", "critical")), "conditions.all[0].value"),
    (with_condition(condition("type", "is", "Not A Type")), "conditions.all[0].value"),
    (with_condition(condition("tag", "is", "no spaces here")), "conditions.all[0].value"),
    (with_condition(condition("customer_group", "is", "")), "conditions.all[0].value"),
    (with_condition(condition("channel", "in", "email")), "conditions.all[0].value"),
    (with_condition(condition("channel", "in", [])), "conditions.all[0].value"),
    (with_condition(condition("channel", "in", ["email", "fax"])), "conditions.all[0].value[1]"),
    (with_condition(condition("body", "contains", "")), "conditions.all[0].value"),
    (with_condition(condition("body", "contains", "!!!")), "conditions.all[0].value"),
    (with_condition(condition("subject", "contains", ["ok", 7])), "conditions.all[0].value[1]"),
    (with_condition(condition("subject", "contains", "x" * 201)), "conditions.all[0].value"),
    ({**GOOD, "actions": {}}, "actions"), ({**GOOD, "actions": "high"}, "actions"),
    ({k: v for k, v in GOOD.items() if k != "actions"}, "actions"),
    ({**GOOD, "actions": {"assign": "sara"}}, "actions.assign"),
    ({**GOOD, "actions": {"priority": "asap"}}, "actions.priority"),
    ({**GOOD, "actions": {"team_id": None}}, "actions.team_id"),
    ({**GOOD, "actions": {"add_tags": "spam"}}, "actions.add_tags"),
    ({**GOOD, "actions": {"add_tags": []}}, "actions.add_tags"),
    ({**GOOD, "actions": {"add_tags": ["spam", "Not ok!"]}}, "actions.add_tags[1]"),
    ({**GOOD, "actions": {"add_tags": [f"t{n}" for n in range(11)]}}, "actions.add_tags"),
])
def test_what_a_rule_may_not_be_is_refused_naming_its_path(sent, path):
    assert refused(sent) == [path]


def test_a_patch_sends_what_it_changes_and_replaces_conditions_and_actions_whole():
    assert refused({}, partial=True) == list(rules.FIELDS)
    assert rules.clean_rule({"enabled": False}, partial=True) == {"enabled": False}
    saved = {**rules.clean_rule(GOOD), "position": 0}
    merged, changed = rules.merge(saved, rules.clean_rule({"actions": {"team_id": "t-1"}, "name": "R"}, partial=True))
    assert merged["actions"] == {"team_id": "t-1"} and changed == {"actions": {"team_id": "t-1"}}
    assert rules.merge(saved, rules.clean_rule({"name": "R"}, partial=True))[1] == {}


def test_the_teams_and_topics_a_rule_names_are_listed_with_their_paths():
    saved = rules.clean_rule({"name": "R", "conditions": {"all": [
        condition("topic_id", "in", ["top-1", "top-2"]), condition("team_id", "is_not", "team-1"),
        condition("channel", "is", "email")]}, "actions": {"team_id": "team-2", "priority": "low"}})
    assert rules.references(saved) == [
        ("conditions.all[0].value[0]", "topic", "top-1"), ("conditions.all[0].value[1]", "topic", "top-2"),
        ("conditions.all[1].value", "team", "team-1"), ("actions.team_id", "team", "team-2")]


# --- which tickets a rule matches ----------------------------------------------------------------


@pytest.mark.parametrize("cond, ticket, expected", [
    (condition("type", "is", "order_delayed"), facts(type="order_delayed"), True),
    (condition("type", "is", "order_delayed"), facts(), False),
    (condition("type", "is_not", "order_delayed"), facts(), True),
    (condition("type", "in", ["general", "product_exchange"]), facts(), True),
    (condition("topic_id", "is", "top-1"), facts(topic_id="top-1"), True),
    (condition("topic_id", "is_not", "top-1"), facts(topic_id=None), True),  # no topic is not that topic
    (condition("topic_id", "in", ["top-1"]), facts(topic_id=None), False),
    (condition("channel", "in", ["email", "whatsapp"]), facts(channel="whatsapp"), True),
    (condition("priority", "is", "urgent"), facts(), False),
    (condition("tag", "is", "vip"), facts(tags=("new", "vip")), True),
    (condition("tag", "is_not", "vip"), facts(tags=("new", "vip")), False),
    (condition("tag", "is_not", "vip"), facts(), True),
    (condition("tag", "in", ["vip", "gold"]), facts(tags=("gold",)), True),
    (condition("customer_group", "is", VIP), facts(customer_groups=(WHOLESALE, VIP)), True),
    (condition("customer_group", "is", VIP), facts(), False),
    (condition("customer_group", "is_not", VIP), facts(customer_groups=(WHOLESALE,)), True),
    (condition("customer_group", "in", [VIP, WHOLESALE]), facts(customer_groups=(WHOLESALE,)), True),
])
def test_each_op_on_each_kind_of_field(cond, ticket, expected):
    assert rules.matches({"all": [cond]}, ticket) is expected


def shopper_says(subject="", body="") -> rules.Facts:
    """Facts as ``facts_of`` folds them from what the shopper typed."""
    return facts(subject=fold_text(subject), body=fold_text(body))


def test_subject_and_body_contain_text_whatever_its_case_and_arabic_spelling():
    refund = {"all": [condition("subject", "contains", "Refund")]}
    assert rules.matches(refund, shopper_says(subject="I want a REFUND please"))
    assert not rules.matches(refund, shopper_says(body="I want a refund"))  # the subject only
    # Typed with hamza or without, with tashkeel, ta marbuta or heh, a Persian keyboard's yeh and kaf.
    prize = {"all": [condition("body", "contains", "إربح جائزة")]}
    assert rules.matches(prize, shopper_says(body="مبروك! اربحْ جائزه الآن"))
    assert rules.matches({"all": [condition("body", "contains", "كيف")]}, shopper_says(body="کیف حالك"))
    # A list: any of the texts.
    spam = {"all": [condition("body", "contains", ["ربح سريع", "free money"])]}
    assert rules.matches(spam, shopper_says(body="FREE-money now!!"))
    assert not rules.matches(spam, shopper_says(body="my money was taken twice"))


def test_every_condition_must_hold():
    both = {"all": [condition("channel", "is", "email"), condition("customer_group", "is", VIP)]}
    assert rules.matches(both, facts(channel="email", customer_groups=(VIP,)))
    assert not rules.matches(both, facts(channel="email"))
    assert not rules.matches(both, facts(customer_groups=(VIP,)))


# --- what the rules do, in order ---------------------------------------------------------------


def test_matching_rules_apply_in_position_order_each_action_once():
    found = [
        rule("Spam words", condition("body", "contains", "late"), position=5, add_tags=["spam"]),
        rule("Email", condition("channel", "is", "email"), position=1, priority="low"),  # does not match
        rule("Everyone", condition("type", "is", "general"), position=1, team_id="team-1", add_tags=["new"]),
    ]
    assert done(rules.apply(found, facts())) == [
        ("Everyone", "team", "team-1"), ("Everyone", "tag", "new"), ("Spam words", "tag", "spam")]


def test_ties_keep_the_order_given_oldest_first():
    first, second = rule("First", condition("type", "is", "general"), priority="high"), rule(
        "Second", condition("type", "is", "general"), priority="urgent")
    assert done(rules.apply([first, second], facts())) == [("First", "priority", "high"),
                                                           ("Second", "priority", "urgent")]
    assert done(rules.apply([second, first], facts())) == [("Second", "priority", "urgent"),
                                                           ("First", "priority", "high")]


def test_later_rules_see_what_earlier_rules_did():
    found = [
        rule("VIP is urgent", condition("customer_group", "is", VIP), position=1, priority="urgent",
             add_tags=["vip"]),
        rule("Urgent to escalations", condition("priority", "is", "urgent"), position=2, team_id="team-esc"),
        rule("Escalations tagged", condition("team_id", "is", "team-esc"), condition("tag", "is", "vip"),
             position=3, add_tags=["escalated"]),
        rule("Not for VIPs", condition("tag", "is_not", "vip"), position=4, priority="low"),
    ]
    assert done(rules.apply(found, facts(customer_groups=(VIP,)))) == [
        ("VIP is urgent", "priority", "urgent"), ("VIP is urgent", "tag", "vip"),
        ("Urgent to escalations", "team", "team-esc"), ("Escalations tagged", "tag", "escalated")]
    assert done(rules.apply(found, facts())) == [("Not for VIPs", "priority", "low")]


def test_what_already_is_is_no_change_and_disabled_rules_do_nothing():
    found = [rule("Normal", condition("type", "is", "general"), priority="normal", team_id="team-1",
                  add_tags=["new"]),
             rule("Off", condition("type", "is", "general"), enabled=False, priority="urgent")]
    assert done(rules.apply(found, facts(team_id="team-1", tags=("new",)))) == []


def test_a_ticket_full_of_tags_takes_no_more_and_still_opens():
    many = rule("Many", condition("type", "is", "general"), add_tags=[f"t{n}" for n in range(10)])
    more = rule("More", condition("type", "is", "general"), add_tags=[f"u{n}" for n in range(10)])
    extra = rule("Extra", condition("type", "is", "general"), add_tags=["last-straw"])
    changes = rules.apply([many, more, extra], facts(tags=("already",)))
    assert len(changes) == MAX_TAGS - 1 and ("Extra", "tag", "last-straw") not in done(changes)


# --- the ticket's own events say which rule did it ----------------------------------------------


def opened_ticket(**fields):
    command = OpenTicket(actor=Actor("customer", "cus-1"), ticket_id="t-1", store_id="st-1", number=7,
                         subject="Win a prize", body="اربح جائزة الآن", **fields)
    return fold(stored(decide(None, command, NOW), 0))


def test_a_change_is_an_ordinary_command_by_the_rules_whose_events_name_the_rule():
    state = opened_ticket(topic_id="top-1")
    found = [rule("Spam", condition("body", "contains", "إربح جائزة"), rule_id="r-spam", add_tags=["spam"],
                  priority="low"),
             rule("Topic", condition("topic_id", "is", "top-1"), rule_id="r-topic", team_id="team-1")]
    events = []
    for change in rules.apply(found, rules.facts_of(state)):
        decided = rules.attributed(decide(state, rules.command_for(change), NOW), change)
        state = fold(stored(decided, state.version), state)
        events += decided
    assert [(e.type, e.actor, e.data["rule_id"], e.data["rule_name"]) for e in events] == [
        ("ticket.priority_changed", rules.ACTOR, "r-spam", "Spam"), ("ticket.tag_added", rules.ACTOR, "r-spam", "Spam"),
        ("ticket.assigned", rules.ACTOR, "r-topic", "Topic")]
    assert events[2].data == {"assignee_id": None, "team": "team-1", "previous_assignee_id": None,
                              "previous_team": None, "rule_id": "r-topic", "rule_name": "Topic"}
    assert (state.priority, state.tags, state.team, state.version) == ("low", ("spam",), "team-1", 4)
    assert rules.ACTOR == Actor("system", "rules")


def test_facts_are_the_ticket_as_its_opening_left_it_and_groups_are_looked_up_only_when_asked():
    state = replace(opened_ticket(channel=None), tags=("x",))
    seen = rules.facts_of(state, [VIP])
    assert (seen.type, seen.channel, seen.priority, seen.tags, seen.customer_groups, seen.subject, seen.body) == (
        "general", "widget", "normal", ("x",), (VIP,), "win a prize", "اربح جايزه الان")
    assert rules.needs_groups([rule("G", condition("customer_group", "is", VIP), priority="high")])
    assert not rules.needs_groups([rule("C", condition("channel", "is", "email"), priority="high")])


# --- the rule as the fold of its stream ------------------------------------------------------------


def test_a_rule_is_the_fold_of_its_events():
    clean = {**rules.clean_rule(GOOD), "position": 2}
    history = stored([
        NewEvent("rule.created", {"rule_id": "r-1", **clean}, actor=OWNER, store_id="st-1", occurred_at=NOW),
        NewEvent("rule.updated", {"rule_id": "r-1", "changes": {"enabled": False}, **{**clean, "enabled": False}},
                 actor=OWNER, store_id="st-1", occurred_at=NOW),
    ], 0, stream_id="rule:r-1")
    folded = rules.fold(history)
    assert (folded["id"], folded["store_id"], folded["enabled"], folded["position"], folded["version"]) == (
        "r-1", "st-1", False, 2, 2)
    gone = stored([NewEvent("rule.deleted", {"rule_id": "r-1", "name": "R"}, actor=OWNER, store_id="st-1",
                            occurred_at=NOW)], 2, stream_id="rule:r-1")
    assert rules.fold(gone, folded) is None
    with pytest.raises(ValueError):
        rules.fold(gone)
