"""The field types and helpers every schema module uses.

Types and sizes only: the services' domains own the rules and answer
409/422 naming the field. Free text has payment card numbers masked as it
is loaded (``FreeText``), so none leaves the gateway; codes that masking
would break (mobiles, URLs, dates, cursors, SKUs) use ``masked=False`` and
their own patterns.
"""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from seedwork.cards import redact_card_numbers

ID = validate.Regexp(r"^[A-Za-z0-9_.:\-]{1,64}\Z", error="1 to 64 letters, digits, or . _ : -")
UUID = validate.Regexp(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z",
                       error="an id as the API returns it: a lowercase UUID")
MAX_PAGE = 100
ORDER_ID = r"^[A-Za-z0-9_.:-]{1,100}\Z"  # the store platform's own order ids
LOCALES = ("ar", "en")  # of notification templates


class StrictInteger(fields.Integer):
    """An integer, and not a boolean (JSON true is not 1)."""

    def _validated(self, value):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._validated(value)


class StrictBoolean(fields.Boolean):
    """JSON true or false, and nothing that merely looks like one ("yes", 1)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


def query_boolean(**kwargs) -> fields.Boolean:
    """``true`` or ``false`` in a query string."""
    return fields.Boolean(truthy={"true"}, falsy={"false"}, **kwargs)


def no_nul(value: str) -> None:
    # PostgreSQL text cannot hold NUL: refuse it here, naming the field.
    if "\x00" in value:
        raise ValidationError("must not contain NUL characters")


class FreeText(fields.String):
    """A string a person typed: payment card numbers in it are masked to ``•••• •••• •••• 1234``."""

    def _deserialize(self, value, attr, data, **kwargs):
        return redact_card_numbers(super()._deserialize(value, attr, data, **kwargs))


def text(max_length: int, required: bool = False, *, masked: bool = True, **kwargs) -> fields.String:
    """A string of 1..max_length characters. ``masked=False`` for codes that masking would break
    (mobiles, cursors, dates, URLs, SKUs): their own patterns keep a card out or the domain refuses it."""
    kind = FreeText if masked else fields.String
    return kind(required=required, validate=[validate.Length(min=1, max=max_length), no_nul], **kwargs)


class Amount(fields.String):
    """A decimal amount: a string like "150.50" (a JSON number is taken too)."""

    default_error_messages = {"invalid": "Not a valid amount: send a decimal string like \"150.50\"."}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        return super()._deserialize(value, attr, data, **kwargs)


def moment(note: str = "", **kwargs) -> fields.String:
    description = "an ISO 8601 date-time with a UTC offset" + (f"; {note}" if note else "")
    return text(40, masked=False, metadata={"description": description}, **kwargs)


def cursor(description: str = "next_cursor of the previous page") -> fields.String:
    return text(500, masked=False, metadata={"description": description})


def page_limit(maximum: int = MAX_PAGE) -> StrictInteger:
    return StrictInteger(load_default=25, validate=validate.Range(min=1, max=maximum))


class AtLeastOneField(Schema):
    """A body that changes what it names: one naming nothing is refused."""

    nothing_sent = "send at least one field"

    @validates_schema
    def at_least_one_field(self, data, **kwargs):
        if not data:
            raise ValidationError(self.nothing_sent, "_schema")


class NoFields(Schema):
    """No fields: an empty body or {}."""


class PageQuery(Schema):
    cursor = cursor()
    limit = page_limit()


def listing(item: type[Schema], name: str, paged: bool = True) -> type[Schema]:
    """The schema of a list answer: ``{"items": [...]}``, and the cursor of the
    next page (null on the last one) when ``paged``."""
    declared = {"items": fields.List(fields.Nested(item))}
    if paged:
        declared["next_cursor"] = fields.String(allow_none=True, metadata={
            "description": "pass as ?cursor= for the next page; null on the last page"})
    return Schema.from_dict(declared, name=name)


def answer(name: str, strings: str, **declared: fields.Field) -> type[Schema]:
    """A small response schema called ``name``: each of the space-separated
    ``strings`` is a string field, then the ``declared`` fields."""
    return type(name, (Schema,), {**{field: fields.String() for field in strings.split()}, **declared})

