"""Building frozen, slotted attrs instances from values that are already valid.

Domain records are frozen: their ``__setattr__`` raises, so the fast paths
that build records from checked parts (a lifecycle move, a bulk import)
cannot write ``n.name = value``. They write each slot through the slot's own
descriptor on the frozen class instead: no converter or validator runs, and
no other class is ever made (a host walking ``cls.__subclasses__()`` sees
only its own classes).

The API is two functions: :func:`slot_setter` for one slot and
:func:`compile_builder` for a straight-line constructor that sets every
field. The caller vouches for the values: nothing here checks them.

May import: ``crmcore.errors``; attrs.
"""

from __future__ import annotations

import keyword
import types
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from crmcore.errors import ConfigurationError

__all__ = ["compile_builder", "slot_setter"]


def slot_setter(cls: type[Any], name: str) -> Callable[[Any, Any], None]:
    """Return the function that writes slot ``name`` of an instance of ``cls``.

    It bypasses ``cls.__setattr__`` (frozen or not), converters and validators.

    Raises:
        ConfigurationError: If ``cls.name`` is not a slot (the first definition
            of ``name`` in the MRO is something else, or there is none).
    """
    for klass in cls.__mro__:
        if name in klass.__dict__:
            descriptor = klass.__dict__[name]
            if isinstance(descriptor, types.MemberDescriptorType):
                setter: Callable[[Any, Any], None] = descriptor.__set__
                return setter
            break
    raise ConfigurationError(f"{cls.__name__}.{name} is not a slot")


def compile_builder(
    cls: type[Any], parameters: str, values: Mapping[str, str]
) -> Callable[..., Any]:
    """Generate ``make(<parameters>)``: a new ``cls`` with each field set to its expression.

    ``values`` maps every attrs field of ``cls`` to a Python expression over
    ``parameters``. Like attrs' generated ``__init__``, straight-line code is
    faster than a loop over the field names; unlike it, no converter,
    validator or ``__attrs_post_init__`` runs: each slot is written once,
    through its descriptor, before the instance is returned.

    Args:
        cls: A slotted attrs class.
        parameters: The generated function's parameter list, as source text.
        values: Field name to expression, for every field of ``cls``.

    Raises:
        ConfigurationError: If ``cls`` is not a slotted attrs class, ``values``
            does not name each of its fields exactly, or a field is not a slot.
    """
    if not attrs.has(cls):
        raise ConfigurationError(f"{cls.__name__} is not an attrs class")
    fields = [f.name for f in attrs.fields(cls)]
    if sorted(fields) != sorted(values):
        raise ConfigurationError(
            f"a builder of {cls.__name__} must set exactly its fields {sorted(fields)}, "
            f"not {sorted(values)}"
        )
    namespace: dict[str, Any] = {"new": cls.__new__, "cls": cls}
    lines = [f"def make({parameters}):", "    n = new(cls)"]
    for i, (name, value) in enumerate(values.items()):
        if not name.isidentifier() or keyword.iskeyword(name):  # pragma: no cover - attrs names
            raise ConfigurationError(f"{cls.__name__}: {name!r} is not a field name")
        namespace[f"set{i}"] = slot_setter(cls, name)
        lines.append(f"    set{i}(n, {value})")
    lines.append("    return n")
    exec("\n".join(lines), namespace)  # noqa: S102 - code built from attrs field names
    make: Callable[..., Any] = namespace["make"]
    return make
