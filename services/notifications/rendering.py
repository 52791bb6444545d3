"""Notification templates: per kind and locale a subject, a text and an HTML body.

Jinja2 in a sandbox with strict undefined variables: HTML is autoescaped,
subject and text are not (they are not HTML), and a subject is one line.
Our defaults are the files in ``templates/`` (``<kind>/<locale>.subject.j2``,
``.txt.j2``, ``.html.j2``, the HTML inside ``layout.html.j2``, the words each
locale shares in ``labels/<locale>.j2``; see docs/notifications.md). They are
read again when they change, so an edited file is in the next email, and
they render for any values of the documented variables. A store's override
is untrusted: when it fails (an unknown variable, a syntax error, the sandbox
refusing something, the budget of ``sandbox``) the default is rendered
instead and the reason is returned, so a broken override never blocks a send.

Templates see only the documented variables of their kind (``VARIABLES``);
one that is absent arrives as ``None`` and prints as nothing. ``store``,
``ticket``, ``order`` (and each of ``order.items``) and ``due_at`` (a
``moment``, in the store's time zone) are records whose fields are listed in
``FIELDS``: ``{{ ticket.number }}``, ``{{ order.items }}``, ``{{ due_at.hour }}``.
Two filters help: ``nl2br`` (line breaks of a text kept in HTML) and
``safe_url`` (the URL if it is http(s), else empty: for ``href``). Our own
files also see ``locale``, to import their labels.
"""
from __future__ import annotations

import functools
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any, Mapping
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import PackageLoader, StrictUndefined, TemplateSyntaxError, nodes, pass_eval_context
from jinja2.exceptions import SecurityError
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup, escape

# Moments are shown in the store's time zone: the event's ``time_zone`` when it has one, else the default.
from seedwork.business_calendar import DEFAULT_TIME_ZONE
from seedwork.errors import InvalidCommand
from services.notifications import sandbox

KINDS = ("ticket_opened", "ticket_reply", "customer_replied", "ticket_assigned", "tracking_link",
         "order_details", "rating_request", "direct_message", "store_alert", "sla_warning", "sla_breached",
         "ticket_forwarded")
LOCALES = ("ar", "en")
PARTS = ("subject", "text", "html")
# Our files: templates/<kind>/<locale>.<suffix> for each part.
SUFFIXES = {"subject": "subject.j2", "text": "txt.j2", "html": "html.j2"}
DEFAULT_BRAND_COLOR = "#0e7490"

_TICKET = ("store", "customer_name", "agent_name", "ticket")
VARIABLES: dict[str, tuple[str, ...]] = {
    "ticket_opened": ("store", "customer_name", "ticket", "body"),
    "ticket_reply": (*_TICKET, "body"),          # agent_name: who replied (None: the team)
    "customer_replied": (*_TICKET, "body"),      # agent_name: the assignee (None: the support address)
    "ticket_assigned": _TICKET,                  # agent_name: the new assignee
    "tracking_link": ("store", "customer_name", "order", "tracking_url", "message"),
    "order_details": ("store", "customer_name", "order", "message"),
    "rating_request": ("store", "customer_name", "link"),
    "direct_message": ("store", "customer_name", "subject", "body"),
    # alert: quota_reached (channel, quota, window_start) or webhook_failing (url, last_error); else message
    "store_alert": ("store", "alert", "channel", "quota", "window_start", "url", "last_error", "message"),
    # agent_name: the agent told (None: the support address); target: first_response, next_response or
    # resolution; due_at: when it is (or was) due, a moment in the store's time zone
    "sla_warning": (*_TICKET, "target", "due_at"),
    "sla_breached": (*_TICKET, "target", "due_at"),
    # To someone outside the store's staff: agent_name: who forwarded it; customer_name: the ticket's shopper;
    # note: theirs, for the recipient; messages: the public messages sent (oldest first); left_out: how many
    # earlier ones were not
    "ticket_forwarded": ("store", "customer_name", "agent_name", "ticket", "note", "messages", "left_out"),
}
FIELDS: dict[str, tuple[str, ...]] = {
    "store": ("name", "brand_color", "logo_url", "on_brand"),   # on_brand: a text colour readable on brand_color
    "ticket": ("id", "number", "subject", "team"),              # team: its team's name, if it is on one
    # A moment: the ISO text and its parts in the store's time zone (weekday 1 = Monday ... 7 = Sunday,
    # hour 0 to 23); zone is the time zone's name, utc_offset like "+03:00".
    "moment": ("iso", "year", "month", "day", "weekday", "hour", "minute", "zone", "utc_offset"),
    "order": ("id", "status", "created_at", "total", "currency", "payment_method", "items", "tracking_url"),
    "item": ("name", "quantity", "price", "sku"),
    # A forwarded message: author is customer, agent or system; author_name as known (may be empty);
    # created_at a moment; attachments their files, each a name and, for an external link, its url.
    "message": ("author", "author_name", "body", "created_at", "attachments"),
    "file": ("filename", "url"),
}
OVERRIDE_LIMITS = {"subject": 200, "text": 20_000, "html": 100_000}


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str
    fallback_reason: str | None = None


# --- environments ------------------------------------------------------------------------

def _blank_none(value: Any) -> Any:
    return "" if value is None else value


@pass_eval_context
def nl2br(eval_ctx, value: Any):
    text = "" if value is None else str(value).replace("\r\n", "\n")
    return Markup(str(escape(text)).replace("\n", "<br>\n")) if eval_ctx.autoescape else text


def safe_url(value: Any) -> str:
    text = "" if value is None else str(value).strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return ""
    clean = parts.scheme in ("http", "https") and parts.hostname and not re.search(r"[\s\"'<>\\]", text)
    return text if clean else ""


class OneLine(Extension):
    """``{% oneline %}...{% endoneline %}``: the file's own line breaks, and
    the indentation after them, are left out of what renders (the values'
    are kept), so an HTML template can put each paragraph on its own line
    and still render them side by side, as the emails always had them."""

    tags = {"oneline"}
    _BREAK = re.compile(r"\n\s*")

    def parse(self, parser):
        next(parser.stream)
        body = parser.parse_statements(("name:endoneline",), drop_needle=True)
        for node in body:
            for data in node.find_all(nodes.TemplateData):
                data.data = self._BREAK.sub("", data.data)
        return body


def _environment(cls, autoescape: bool, **options):
    env = cls(undefined=StrictUndefined, autoescape=autoescape, finalize=_blank_none, **options)
    for name, function in (("nl2br", nl2br), ("safe_url", safe_url)):
        if isinstance(env, sandbox.BudgetSandbox):
            env.add_filter(name, function)
        else:
            env.filters[name] = function
    return env


def our_environments(loader) -> dict[bool, ImmutableSandboxedEnvironment]:
    """The environments of our files (text, and HTML autoescaped) over
    ``loader``: trusted, so no budget; a file is checked for changes
    whenever it is used (Jinja's ``auto_reload``), so an edit is in the next email."""
    return {escape: _environment(ImmutableSandboxedEnvironment, escape, loader=loader, extensions=[OneLine])
            for escape in (False, True)}


_OURS = our_environments(PackageLoader("services.notifications", "templates"))
# Theirs: a store's strings, with the budget and nothing to load.
_THEIRS = {False: _environment(sandbox.BudgetSandbox, False),
           True: _environment(sandbox.BudgetSandbox, True)}


def _default(kind: str, locale: str, part: str):
    return _OURS[part == "html"].get_template(f"{kind}/{locale}.{SUFFIXES[part]}")


def check_defaults() -> None:
    """Every kind has its three files in every locale, and each renders with
    nothing known. The service runs it when it starts (``Outbound.setup``):
    a missing or broken file, or label, stops it there, not at some send."""
    for kind in KINDS:
        for locale in LOCALES:
            for part in PARTS:
                _default(kind, locale, part).render({**_context(kind, {}), "locale": locale})


@functools.lru_cache(maxsize=512)
def _override_template(part: str, source: str):
    return _THEIRS[part == "html"].from_string(source)


# --- rendering ---------------------------------------------------------------------------

def render(kind: str, locale: str, context: Mapping[str, Any], override: Mapping[str, str] | None = None) -> Rendered:
    """The message of ``kind`` in ``locale``: the store's ``override`` when it renders, else ours."""
    if kind not in KINDS or locale not in LOCALES:
        raise ValueError(f"no template for kind {kind!r} in locale {locale!r}")
    values = _context(kind, context)
    reason = None
    if override is not None:
        key = (kind, locale, *(str(override.get(part)) for part in PARTS))
        reason = _failed.get(key)
        if reason is None:
            try:
                compiled = [_override_template(part, _source(override, part)) for part in PARTS]  # cached
                deadline = time.monotonic() + sandbox.SECONDS  # the budget is for rendering, not compiling
                parts = [sandbox.render_within(template, values, deadline=deadline) for template in compiled]
                return Rendered(_one_line(parts[0]), parts[1], parts[2])
            except SecurityError as exc:  # the costly kind of failure: skip this override a while
                reason = _reason(exc)
                _failed.put(key, reason)
            except Exception as exc:  # anything else an override does wrong falls back to ours
                reason = _reason(exc)
    ours = {**values, "locale": locale}
    subject, text, html = (_default(kind, locale, part).render(ours) for part in PARTS)
    return Rendered(_one_line(subject), text, html, reason)


class _Failures:
    """Overrides that just broke the sandbox's budget (time or size),
    remembered a while: the next messages go out with the default at once
    instead of spending the budget again. Other failures are cheap to find
    again and may depend on one message's values, so they are not kept."""

    def __init__(self, seconds: float = 600.0, size: int = 256):
        self.seconds, self.size = seconds, size
        self.found: OrderedDict[tuple, tuple[float, str]] = OrderedDict()

    def get(self, key: tuple) -> str | None:
        hit = self.found.get(key)
        if hit is None or hit[0] < time.monotonic():
            self.found.pop(key, None)
            return None
        return hit[1]

    def put(self, key: tuple, reason: str) -> None:
        self.found[key] = (time.monotonic() + self.seconds, reason)
        while len(self.found) > self.size:
            self.found.popitem(last=False)


_failed = _Failures()


def check_override(fields: Mapping[str, Any]) -> dict[str, str]:
    """A store's override ``{subject, text, html}``, each present, within its size, and parsing."""
    for name in fields:
        if name not in OVERRIDE_LIMITS:
            raise InvalidCommand.field(name, "is not a template field (subject, text, html)")
    clean = {}
    for name, limit in OVERRIDE_LIMITS.items():
        value = fields.get(name)
        if not isinstance(value, str) or not value.strip():
            raise InvalidCommand.field(name, "is required: a template text")
        if len(value) > limit:
            raise InvalidCommand.field(name, f"must be at most {limit} characters")
        try:
            _override_template(name, value)
        except TemplateSyntaxError as exc:
            raise InvalidCommand.field(name, f"line {exc.lineno}: {exc.message}") from None
        clean[name] = value
    return clean


def _source(override: Mapping[str, str], part: str) -> str:
    value = override.get(part)
    if not isinstance(value, str):
        raise ValueError(f"the override has no {part}")
    return value


def _one_line(subject: str) -> str:
    return " ".join(subject.split())


def _reason(exc: Exception) -> str:
    where = f" (line {exc.lineno})" if isinstance(exc, TemplateSyntaxError) and exc.lineno else ""
    return f"{type(exc).__name__}{where}: {exc}"[:300]


# --- the variables a template sees ------------------------------------------------------

_COLOR = re.compile(r"#[0-9a-fA-F]{6}\Z")


def _record(value: Any, fields: tuple[str, ...]) -> SimpleNamespace:
    values = value if isinstance(value, Mapping) else {}
    return SimpleNamespace(**{name: values.get(name) for name in fields})


def _store(value: Any) -> SimpleNamespace:
    store = _record(value, FIELDS["store"])
    if not isinstance(store.brand_color, str) or not _COLOR.match(store.brand_color):
        store.brand_color = DEFAULT_BRAND_COLOR
    store.logo_url = safe_url(store.logo_url) or None
    red, green, blue = (int(store.brand_color[i:i + 2], 16) for i in (1, 3, 5))
    store.on_brand = "#111827" if 0.299 * red + 0.587 * green + 0.114 * blue > 160 else "#ffffff"
    return store


def _order(value: Any) -> SimpleNamespace:
    order = _record(value, FIELDS["order"])
    items = order.items if isinstance(order.items, (list, tuple)) else []
    order.items = [_record(item if isinstance(item, Mapping) else {"name": item}, FIELDS["item"]) for item in items]
    return order


def _moment(value: Any, time_zone: Any) -> SimpleNamespace:
    """An ISO-8601 moment with an offset, as a record of its parts in
    ``time_zone`` (unknown: ``DEFAULT_TIME_ZONE``); anything else: all None."""
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        return _record({}, FIELDS["moment"])
    try:
        zone = ZoneInfo(time_zone) if isinstance(time_zone, str) and time_zone else None
    except (ValueError, ZoneInfoNotFoundError):
        zone = None
    zone = zone or ZoneInfo(DEFAULT_TIME_ZONE)
    local = moment.astimezone(zone)
    offset = local.strftime("%z")
    return _record({"iso": local.isoformat(), "year": local.year, "month": local.month, "day": local.day,
                    "weekday": local.isoweekday(), "hour": local.hour, "minute": local.minute, "zone": zone.key,
                    "utc_offset": f"{offset[:3]}:{offset[3:]}"}, FIELDS["moment"])


def _context(kind: str, context: Mapping[str, Any]) -> dict[str, Any]:
    values = {name: context.get(name) for name in VARIABLES[kind]}
    if "due_at" in values:
        values["due_at"] = _moment(values["due_at"], context.get("time_zone"))
    if "store" in values:
        values["store"] = _store(values["store"])
    if "ticket" in values:
        values["ticket"] = _record(values["ticket"], FIELDS["ticket"])
    if "order" in values:
        values["order"] = _order(values["order"])
    if "messages" in values:
        values["messages"] = _messages(values["messages"], context.get("time_zone"))
    return values


def _messages(value: Any, time_zone: Any) -> list[SimpleNamespace]:
    messages = value if isinstance(value, (list, tuple)) else []
    records = []
    for item in messages:
        if not isinstance(item, Mapping):
            continue
        message = _record(item, FIELDS["message"])
        message.created_at = _moment(message.created_at, time_zone)
        files = message.attachments if isinstance(message.attachments, (list, tuple)) else []
        message.attachments = [_record(f, FIELDS["file"]) for f in files]
        records.append(message)
    return records
