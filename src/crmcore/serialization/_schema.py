"""JSON Schemas (draft 2020-12) for every payload type the converter reads (private).

Use :func:`crmcore.serialization.json_schema`. A schema is derived from the
same things the converter reads: the attrs fields of a class (required when
they have no default, no other keys allowed), the strict hooks of
:mod:`crmcore.serialization._strict` (text takes only strings, integers only
integers, lists at most ``MAX_ITEMS`` items), the hooks of ``_domain``,
``_lifecycle`` and ``_segments`` (timestamps, amounts, durations, tagged
unions) and the hand-read forms of business calendars and access policies.

A schema never rejects what :func:`~crmcore.serialization.structure` accepts
(where the converter checks more — a phone number's digits, a rule's depth,
a consent's dates — the schema leaves it to the converter), and everything
:func:`~crmcore.serialization.unstructure` writes validates against it: the
property tests check both on random payloads.

Titles come from the label catalogue (:mod:`crmcore.i18n`) in the locale
asked for; descriptions from the docstrings (the class's first paragraph and
its ``Attributes:`` section).
"""

from __future__ import annotations

import collections.abc
import datetime as dt
import enum
import inspect
import re
import types
import typing
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Final, Literal

import attrs
import pendulum

from crmcore.domain import (
    Activity,
    Case,
    Consent,
    ContactPoints,
    CountryCode,
    Customer,
    CustomFields,
    CustomFieldSchema,
    DomainEvent,
    EmailAddress,
    FieldDef,
    Lead,
    Money,
    Opportunity,
    Order,
    Organization,
    Person,
    PersonName,
    PhoneNumber,
    PostalAddress,
    SurveyResponse,
    Tag,
)
from crmcore.errors import InvalidValueError
from crmcore.i18n import Locale, parse_locale, text
from crmcore.lifecycle.business_calendar import WEEKDAYS, BusinessCalendar
from crmcore.lifecycle.rules import TimeRule
from crmcore.lifecycle.workflow import State, Transition, Workflow
from crmcore.merge.record import MergeRecord
from crmcore.privacy.access import AccessPolicy, Action, RecordType, Scope
from crmcore.privacy.consent import ConsentRecord, ConsentWithdrawal
from crmcore.segments.rule import Rule, Value
from crmcore.segments.window import Window
from crmcore.serialization._domain import TAG
from crmcore.serialization._strict import _COLLECTIONS, MAX_ITEMS

__all__ = ["DIALECT", "SCHEMA_TYPES", "json_schema"]

DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
"""The JSON Schema dialect every generated schema declares (``$schema``)."""

SCHEMA_TYPES: Final[Mapping[str, Any]] = {
    "Customer": Customer,
    "Lead": Lead,
    "Opportunity": Opportunity,
    "Activity": Activity,
    "Case": Case,
    "Order": Order,
    "SurveyResponse": SurveyResponse,
    "Consent": Consent,
    "MergeRecord": MergeRecord,
    "DomainEvent": DomainEvent,
    "Rule": Rule,
    "Window": Window,
    "Workflow": Workflow,
    "State": State,
    "Transition": Transition,
    "TimeRule": TimeRule,
    "BusinessCalendar": BusinessCalendar,
    "CustomFieldSchema": CustomFieldSchema,
    "FieldDef": FieldDef,
    "CustomFields": CustomFields,
    "AccessPolicy": AccessPolicy,
    "ConsentRecord": ConsentRecord,
    "ConsentWithdrawal": ConsentWithdrawal,
    "Money": Money,
    "PersonName": PersonName,
    "PostalAddress": PostalAddress,
    "ContactPoints": ContactPoints,
    "Person": Person,
    "Organization": Organization,
}
"""Every payload type with a schema, by the name ``crmcore schema TYPE`` takes."""

# The tagged unions: every member is an object with ``"type": "<ClassName>"``.
_UNIONS: Final[Mapping[str, Any]] = {
    "DomainEvent": DomainEvent,
    "Rule": Rule,
    "Window": Window,
    "TimeRule": TimeRule,
}

# Decimal text as ``decimal.Decimal`` reads it (a superset: the converter also checks
# finiteness and each field its own range); amounts are written as such strings.
_DECIMAL_TEXT: Final = r"^\s*[+-]?[\d_]*\.?[\d_]*(?:[eE][+-]?[\d_]+)?\s*$"
_DURATION_TEXT: Final = r"^-?PT(?:\d+H)?(?:\d+M)?(?:\d+(?:\.\d{1,6})?S)?$"

_SCALARS: Final[Mapping[Any, dict[str, Any]]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    type(None): {"type": "null"},
}


def json_schema(tp: Any, locale: Locale | str = "en") -> dict[str, Any]:
    """Return the JSON Schema (draft 2020-12) of the JSON form of ``tp``.

    Args:
        tp: A payload type: a class of :data:`SCHEMA_TYPES` or any type built
            from crmcore types the converter reads (``Workflow``, ``Rule``,
            ``DomainEvent``, ``tuple[Tag, ...]`` ...).
        locale: The locale of titles: ``"en"`` or ``"zh_CN"``.

    Returns:
        A JSON-ready schema: ``$schema``, ``title``, ``description`` and, for
        classes, ``$defs`` with one definition per class (recursive rules refer
        to themselves).

    Raises:
        InvalidValueError: If ``tp`` is not a type the converter reads, or the
            locale is unsupported.

    >>> from crmcore.domain import Money
    >>> schema = json_schema(Money, "zh_CN")
    >>> schema["title"], schema["$defs"]["Money"]["required"]
    ('金额', ['amount', 'currency'])
    >>> schema["$defs"]["Money"]["properties"]["currency"]["title"]
    '币种'
    """
    chosen = parse_locale(locale)
    builder = _Builder(chosen)
    root = builder.schema(tp)
    name = _name_of(tp)
    document: dict[str, Any] = {"$schema": DIALECT}
    if name is not None:
        document["title"] = text(f"type.{name}", name, chosen)
        description = _summary(_doc_of(tp))
        if description:
            document["description"] = description
    document.update(root)
    if builder.defs:
        document["$defs"] = dict(sorted(builder.defs.items()))
    return document


def _name_of(tp: Any) -> str | None:
    for union_name, known in _UNIONS.items():
        if tp == known:
            return union_name
    origin = typing.get_origin(tp) or tp
    crmcore_type = isinstance(origin, type) and (attrs.has(origin) or issubclass(origin, enum.Enum))
    return origin.__name__ if crmcore_type else None


def _described(hint: Any) -> Any:
    """The enum or attrs class a field holds (also when optional), whose docstring describes it."""
    members = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and len(members) == 1:
        hint = members[0]
    return hint if _name_of(hint) is not None else None


def _doc_of(tp: Any) -> str:
    origin = typing.get_origin(tp) or tp
    if isinstance(origin, type):
        return inspect.getdoc(origin) or ""
    return ""


_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")
_LITERAL = re.compile(r"``([^`]+)``")


def _plain(text_: str) -> str:
    """Docstring text without reST markup: ``:class:`~a.B``` is ``B``, ````x```` is ``x``.

    >>> _plain("JSON-able through :meth:`to_dict`; ``Decimal`` + :class:`~crmcore.domain.Money`")
    'JSON-able through to_dict; Decimal + Money'
    """
    text_ = _ROLE.sub(lambda m: m.group(1).rsplit(".", 1)[-1], text_)
    return _LITERAL.sub(r"\1", text_)


def _summary(doc: str) -> str:
    """The first paragraph of a docstring, as one line of plain text."""
    paragraph = doc.strip().split("\n\n", 1)[0]
    return _plain(" ".join(paragraph.split()))


_SECTION = re.compile(r"^(Attributes|Args|Arguments):\s*$")
_ITEM = re.compile(r"^(\s+)([A-Za-z_][A-Za-z0-9_]*)(?: \([^)]*\))?:\s*(.*)$")


def _attribute_docs(doc: str) -> dict[str, str]:
    """The ``Attributes:`` entries of a Google-style docstring: name -> one-line text."""
    found: dict[str, str] = {}
    inside = False
    indent = ""
    current: str | None = None
    for line in doc.splitlines():
        if _SECTION.match(line):
            inside, indent, current = True, "", None
            continue
        if not inside:
            continue
        if line and not line[0].isspace():
            inside = False
            continue
        match = _ITEM.match(line)
        if match and (not indent or match.group(1) == indent):
            indent = match.group(1)
            current = match.group(2)
            found[current] = match.group(3).strip()
        elif current is not None and line.strip():
            found[current] = f"{found[current]} {line.strip()}"
    return {name: _plain(description) for name, description in found.items()}


class _Builder:
    """Builds one schema document; ``defs`` collects a definition per class."""

    def __init__(self, locale: Locale) -> None:
        self.locale: Locale = locale
        self.defs: dict[str, dict[str, Any]] = {}
        self._special: dict[Any, Callable[[], dict[str, Any]]] = {
            pendulum.DateTime: lambda: {
                "type": "string",
                "format": "date-time",
                "description": "ISO 8601 timestamp with an offset.",
            },
            dt.datetime: lambda: {"type": "string", "format": "date-time"},
            dt.date: lambda: {"type": "string", "format": "date"},
            dt.timedelta: lambda: {
                "type": "string",
                "pattern": _DURATION_TEXT,
                "description": "ISO 8601 time duration (PT8H, PT1H30M).",
            },
            Decimal: lambda: {
                "anyOf": [{"type": "string", "pattern": _DECIMAL_TEXT}, {"type": "integer"}],
                "description": "A decimal number written as a string (or an integer).",
            },
            EmailAddress: lambda: {"type": "string", "format": "email"},
            PhoneNumber: lambda: {
                "type": "string",
                "description": "A phone number, written in E.164 (+8613800138000).",
            },
            Tag: lambda: {"type": "string"},
            CountryCode: lambda: {"type": "string", "description": "ISO 3166-1 alpha-2."},
            CustomFields: self._custom_fields,
            Value: self._rule_value,
            BusinessCalendar: self._calendar,
            AccessPolicy: self._policy,
        }

    # -- dispatch ------------------------------------------------------------------------

    def schema(self, tp: Any) -> dict[str, Any]:  # noqa: PLR0912 - one branch per kind
        """Return the schema of ``tp``: inline for plain types, a ``$ref`` for classes."""
        for name, union in _UNIONS.items():
            if tp == union:
                return self._union(name, union)
        for special, build in self._special.items():
            if tp == special:
                return self._defined(special, build) if _is_class_def(special) else build()
        if tp is Any or tp is object:
            return {}
        supertype = getattr(tp, "__supertype__", None)
        if supertype is not None:  # a NewType id
            return self.schema(supertype)
        if tp in _SCALARS:
            return dict(_SCALARS[tp])
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if origin in (typing.Union, types.UnionType):
            members = [a for a in args if a is not type(None)]
            options = [self.schema(m) for m in members]
            for name, union in _UNIONS.items():  # an optional tagged union (``Window | None``)
                if set(members) == set(typing.get_args(union)):
                    options = [self._union(name, union)]
            if len(members) < len(args):
                options.append({"type": "null"})
            return options[0] if len(options) == 1 else {"anyOf": options}
        if origin is Literal:
            return {"enum": list(args)}
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            return self._enum(tp)
        if tp in _COLLECTIONS or origin in _COLLECTIONS:
            return self._array(origin or tp, args)
        if origin in (dict, collections.abc.Mapping) or tp in (dict, collections.abc.Mapping):
            value = self.schema(args[1]) if len(args) == 2 else {}
            return {"type": "object", "additionalProperties": value}
        cls = origin or tp
        if isinstance(cls, type) and attrs.has(cls):
            return self._defined(tp, lambda: self._attrs_class(tp))
        raise InvalidValueError("type", getattr(tp, "__name__", tp), "no JSON form known")

    def _defined(self, tp: Any, build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """A ``$ref`` to the definition of ``tp``, built once (and so recursion-safe)."""
        key = _def_name(tp)
        if key not in self.defs:
            self.defs[key] = {}  # placeholder: a recursive reference finds it
            self.defs[key] = build()
        return {"$ref": f"#/$defs/{key}"}

    # -- kinds ---------------------------------------------------------------------------

    def _enum(self, cls: type[enum.Enum]) -> dict[str, Any]:
        values = [m.value for m in cls]
        kinds = {type(v) for v in values}
        schema: dict[str, Any] = {}
        if kinds <= {str}:
            schema["type"] = "string"
        elif kinds <= {int}:
            schema["type"] = "integer"
        schema["enum"] = values
        schema["oneOf"] = [
            {
                "const": m.value,
                "title": text(f"enum.{cls.__name__}.{m.value}", str(m.value), self.locale),
            }
            for m in cls
        ]
        return schema

    def _array(self, origin: Any, args: tuple[Any, ...]) -> dict[str, Any]:
        if origin is tuple and args and args[-1] is not Ellipsis:
            return {
                "type": "array",
                "prefixItems": [self.schema(a) for a in args],
                "items": False,
                "minItems": len(args),
                "maxItems": len(args),
            }
        item = self.schema(args[0]) if args else {}
        return {"type": "array", "items": item, "maxItems": MAX_ITEMS}

    def _union(self, name: str, union: Any) -> dict[str, Any]:
        def build() -> dict[str, Any]:
            # One if/then per member, keyed by the tag: a validator reports what is wrong
            # with the member the tag names, not that no member matched.
            members = typing.get_args(union)
            return {
                "type": "object",
                "required": [TAG],
                "properties": {TAG: {"enum": [m.__name__ for m in members]}},
                "allOf": [
                    {
                        "if": {"properties": {TAG: {"const": m.__name__}}, "required": [TAG]},
                        "then": self.schema(m),
                    }
                    for m in members
                ],
            }

        if name not in self.defs:
            self.defs[name] = {}
            self.defs[name] = build()
            self.defs[name]["title"] = text(f"type.{name}", name, self.locale)
        return {"$ref": f"#/$defs/{name}"}

    def _attrs_class(self, tp: Any) -> dict[str, Any]:
        cls = typing.get_origin(tp) or tp
        bindings = _type_bindings(tp)
        hints = typing.get_type_hints(cls)
        doc = inspect.getdoc(cls) or ""
        documented = _attribute_docs(doc)
        properties: dict[str, Any] = {}
        required: list[str] = []
        tagged = any(cls in typing.get_args(u) for u in _UNIONS.values())
        if tagged:
            properties[TAG] = {"const": cls.__name__}
        for field in attrs.fields(cls):
            if not field.init or field.name in _CODE_FIELDS:
                continue
            hint = _bind(hints.get(field.name, Any), bindings)
            schema = self.schema(hint)
            title = text(f"field.{field.name}", field.name, self.locale)
            entry: dict[str, Any] = {"title": title, **schema}
            description = documented.get(field.name) or _summary(_doc_of(_described(hint)))
            if description:
                entry["description"] = description
            properties[field.name] = entry
            if field.default is attrs.NOTHING:
                required.append(field.name)
        schema = {
            "type": "object",
            "title": text(f"type.{cls.__name__}", cls.__name__, self.locale),
            "properties": properties,
            "additionalProperties": False,
        }
        summary = _summary(doc)
        if summary:
            schema["description"] = summary
        if required:
            schema["required"] = required
        return schema

    # -- hand-read forms -----------------------------------------------------------------

    def _custom_fields(self) -> dict[str, Any]:
        scalar = [{"type": "string"}, {"type": "integer"}, {"type": "boolean"}]
        return {
            "type": "object",
            "title": text("type.CustomFields", "CustomFields", self.locale),
            "description": "Custom field values by field name (checked against the host's "
            "CustomFieldSchema when applied).",
            "additionalProperties": {
                "anyOf": [*scalar, {"type": "array", "items": {"type": "string"}}]
            },
        }

    def _rule_value(self) -> dict[str, Any]:
        scalar = [{"type": "string"}, {"type": "integer"}, {"type": "boolean"}]
        return {
            "anyOf": [
                *scalar,
                {"type": "null"},
                {"type": "array", "items": {"anyOf": scalar}, "maxItems": MAX_ITEMS},
            ]
        }

    def _calendar(self) -> dict[str, Any]:
        hours = {"type": "array", "items": {"type": "string", "description": "HH:MM-HH:MM"}}
        day = {
            "type": "object",
            "required": ["date"],
            "properties": {
                "date": {"type": "string", "format": "date", "title": self._field("date")},
                "name": {"type": "string", "title": self._field("name")},
            },
            "additionalProperties": False,
        }
        return {
            "type": "object",
            "title": text("type.BusinessCalendar", "BusinessCalendar", self.locale),
            "description": _summary(inspect.getdoc(BusinessCalendar) or ""),
            "required": ["name", "timezone", "week"],
            "properties": {
                "name": {"type": "string", "title": self._field("name")},
                "timezone": {"type": "string", "title": self._field("timezone")},
                "week": {
                    "type": "object",
                    "title": self._field("week"),
                    "properties": {day: {**hours, "title": self._field(day)} for day in WEEKDAYS},
                    "additionalProperties": False,
                },
                "holidays": {"type": "array", "items": day, "title": self._field("holidays")},
                "makeup_days": {
                    "type": "array",
                    "items": day,
                    "title": self._field("makeup_days"),
                },
                "makeup_hours": {**hours, "title": self._field("makeup_hours")},
                "note": {"type": "string", "title": self._field("note")},
            },
            "additionalProperties": False,
        }

    def _policy(self) -> dict[str, Any]:
        scopes = {"type": "array", "items": self._enum(Scope)}
        by_type = {
            "type": "object",
            "propertyNames": self._enum(RecordType),
            "additionalProperties": scopes,
        }
        grants = {
            "type": "object",
            "title": self._field("grants"),
            "propertyNames": self._enum(Action),
            "additionalProperties": by_type,
        }
        role = {
            "type": "object",
            "title": text("type.Role", "Role", self.locale),
            "properties": {
                "grants": grants,
                "mask_sensitive": {"type": "boolean", "title": self._field("mask_sensitive")},
            },
            "additionalProperties": False,
        }
        return {
            "type": "object",
            "title": text("type.AccessPolicy", "AccessPolicy", self.locale),
            "description": "Every role by name (its grants: action -> record type -> scopes) "
            "and the team hierarchy (team -> parent team).",
            "required": ["roles"],
            "properties": {
                "roles": {
                    "type": "object",
                    "title": self._field("roles"),
                    "additionalProperties": role,
                },
                "teams": {
                    "type": "object",
                    "title": self._field("teams"),
                    "additionalProperties": {"type": "string"},
                },
            },
            "additionalProperties": False,
        }

    def _field(self, name: str) -> str:
        return text(f"field.{name}", name, self.locale)


# Functions bound to a workflow: code, not data (the converter omits them).
_CODE_FIELDS: Final = frozenset({"guard_functions", "effect_functions"})

_CLASS_DEFS: Final = frozenset({CustomFields, BusinessCalendar, AccessPolicy})


def _is_class_def(tp: Any) -> bool:
    return tp in _CLASS_DEFS


def _def_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is None:
        return str(getattr(tp, "__name__", tp))
    args = "_".join(_def_name(a) if a is not Any else "Any" for a in typing.get_args(tp))
    return f"{origin.__name__}_{args}"


def _type_bindings(tp: Any) -> dict[Any, Any]:
    """Bind the type variables of a generic class to the alias's arguments (default: ``str``)."""
    cls = typing.get_origin(tp) or tp
    params: tuple[Any, ...] = getattr(cls, "__parameters__", ())
    args = typing.get_args(tp)
    if args:
        return dict(zip(params, args, strict=False))
    # A workflow read without type arguments has plain-string states (see _lifecycle).
    return {p: (str if getattr(p, "__bound__", None) is str else Any) for p in params}


def _bind(hint: Any, bindings: Mapping[Any, Any]) -> Any:
    if isinstance(hint, typing.TypeVar):
        return bindings.get(hint, Any)
    args = typing.get_args(hint)
    origin = typing.get_origin(hint)
    if not args or origin is None or origin is Literal:
        return hint
    bound = tuple(_bind(a, bindings) if a is not Ellipsis else a for a in args)
    if bound == args:
        return hint
    if origin in (typing.Union, types.UnionType):
        return typing.Union[bound]  # noqa: UP007 - rebuilt from its arguments
    try:
        return origin[bound]
    except TypeError:  # a collections.abc origin of the builtin kind
        return hint
