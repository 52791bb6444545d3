"""What leaves the gateway is what its response schemas declare.

A response schema (marshmallow) is compiled once into a ``Shape`` that
``project``s an answer onto its declared fields: a field a service adds
without documenting it never reaches a client. With
``GATEWAY_CHECK_RESPONSES=true`` (the end-to-end tests run so; see
``config.py``) every answer is first ``check``ed against the schema, and one
that drifted from its documentation (an undeclared field, a wrong type, a
null where none is allowed) is a 500, logged naming the route and each
field's path, so a test fails.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable

from marshmallow import Schema, fields

Check = Callable[[Any, str, list], None]  # (value, its path, the drifts found so far)


class ResponseDrift(AssertionError):
    """An answer that does not match its response schema (seen in check mode)."""


def _scalar(kinds: tuple[type, ...], name: str) -> Check:
    def check(value: Any, path: str, drifts: list) -> None:
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            drifts.append(f"{path}: expected {name}, got {type(value).__name__} {value!r:.60}")
    return check


_STRING = _scalar((str,), "a string")
_INTEGER = _scalar((int,), "an integer")
_NUMBER = _scalar((int, float), "a number")
_BOOLEAN = _scalar((bool,), "a boolean")
_OBJECT = _scalar((dict,), "an object")


def _anything(value: Any, path: str, drifts: list) -> None:
    pass


class Shape:
    """A schema's fields, compiled: ``project`` keeps them, ``check`` verifies them."""

    def __init__(self, schema: type[Schema]):
        self.name = schema.__name__
        self.fields = {name: _compile(field) for name, field in schema._declared_fields.items()}

    def project(self, answer: dict) -> dict:
        return {name: project(answer[name]) for name, (project, _) in self.fields.items() if name in answer}

    def check(self, answer: Any, path: str = "", drifts: list | None = None) -> list[str]:
        """Every way ``answer`` differs from the schema (raises ``ResponseDrift`` at the top)."""
        top, drifts = drifts is None, [] if drifts is None else drifts
        if not isinstance(answer, dict):
            drifts.append(f"{path or self.name}: expected an object, got {type(answer).__name__}")
        else:
            for name, value in answer.items():
                where = f"{path}.{name}" if path else name
                if name not in self.fields:
                    drifts.append(f"{where}: not a field of {self.name}")
                else:
                    self.fields[name][1](value, where, drifts)
        if top and drifts:
            raise ResponseDrift("; ".join(drifts))
        return drifts

    def answer(self, body: Any, route: str, check: bool = False) -> Any:
        if check and (drifts := self.check(body, drifts=[])):
            # Not logged here: the 500 it becomes is, with the request id (http.response_for_error).
            raise ResponseDrift(f"{route} answered outside its response schema {self.name}: {'; '.join(drifts)}")
        return self.project(body)


def _same(value: Any) -> Any:
    return value


def _compile(field: fields.Field) -> tuple[Callable[[Any], Any], Check]:
    """(project, check) for one field."""
    project, check = _kind(field)
    if field.allow_none:
        def nullable(value: Any, path: str, drifts: list, check=check) -> None:
            if value is not None:
                check(value, path, drifts)
        return (lambda value, project=project: None if value is None else project(value)), nullable
    return project, check


def _kind(field: fields.Field) -> tuple[Callable[[Any], Any], Check]:
    if isinstance(field, fields.Nested):
        inner = shape_of(field.nested if isinstance(field.nested, type) else type(field.nested))
        if field.many:
            return _listed(inner.project, inner.check)
        return inner.project, inner.check
    if isinstance(field, fields.List):
        project, check = _kind(field.inner)
        return _listed(project, check)
    if isinstance(field, fields.Dict):
        return _same, _OBJECT
    if isinstance(field, fields.Boolean):
        return _same, _BOOLEAN
    if isinstance(field, fields.Integer):
        return _same, _INTEGER
    if isinstance(field, (fields.Float, fields.Decimal, fields.Number)):
        return _same, _NUMBER
    if isinstance(field, fields.String):
        return _same, _STRING
    return _same, _anything  # fields.Raw


def _listed(project, check):
    def check_list(value: Any, path: str, drifts: list) -> None:
        if not isinstance(value, list):
            drifts.append(f"{path}: expected a list, got {type(value).__name__}")
            return
        for n, item in enumerate(value):
            check(item, f"{path}.{n}", drifts)
    return (lambda value: [project(item) for item in value]), check_list


@lru_cache(maxsize=None)
def shape_of(schema: type[Schema]) -> Shape:
    return Shape(schema)
