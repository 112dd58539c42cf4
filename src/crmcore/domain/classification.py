"""Data classification (数据分类分级) of every field: public, internal, sensitive.

Each built-in attrs field carries its classification in its metadata
(``attrs.field(metadata=SENSITIVE)``); the privacy layer reads it to mask
fields for roles that may not see them and to pick what to encrypt.

May import: ``crmcore.errors``; attrs.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs

from crmcore.errors import ConfigurationError

__all__ = [
    "INTERNAL",
    "PUBLIC",
    "SENSITIVE",
    "Classification",
    "classification_of",
    "classifications",
]


class Classification(enum.StrEnum):
    """How sensitive a field is (公开 / 内部 / 敏感)."""

    PUBLIC = "public"
    INTERNAL = "internal"
    SENSITIVE = "sensitive"


_KEY = "crmcore.classification"

PUBLIC: Mapping[str, Any] = MappingProxyType({_KEY: Classification.PUBLIC})
"""Field metadata for public data (a company name, a tag)."""
INTERNAL: Mapping[str, Any] = MappingProxyType({_KEY: Classification.INTERNAL})
"""Field metadata for internal data (ids, owners, versions, timestamps)."""
SENSITIVE: Mapping[str, Any] = MappingProxyType({_KEY: Classification.SENSITIVE})
"""Field metadata for personal or financial data (phones, ID numbers, birth dates)."""


def classification_of(cls: type[Any], field: str) -> Classification:
    """Return the classification of one field of an attrs class.

    Raises:
        ConfigurationError: If the class has no such field or it is unclassified.

    >>> from crmcore.domain.party import Person
    >>> classification_of(Person, "national_id")
    <Classification.SENSITIVE: 'sensitive'>
    """
    for f in attrs.fields(cls):
        if f.name == field:
            value = f.metadata.get(_KEY)
            if value is None:
                raise ConfigurationError(f"{cls.__name__}.{field} has no classification")
            return Classification(value)
    raise ConfigurationError(f"{cls.__name__} has no field {field!r}")


def classifications(cls: type[Any]) -> dict[str, Classification]:
    """Return the classification of every field of an attrs class, by field name."""
    return {f.name: classification_of(cls, f.name) for f in attrs.fields(cls)}
