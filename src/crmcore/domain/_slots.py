"""Building frozen, slotted attrs instances from values that are already valid.

Domain records are frozen: their ``__setattr__`` raises, so the fast paths
that build records from checked parts (a lifecycle move, a bulk import)
cannot write ``n.name = value``. :func:`compile_setter` generates a
straight-line constructor that writes every slot without running converters
or validators: on a :func:`writable_twin` when the class allows one, else
through each slot's descriptor.

May import: ``crmcore.errors``.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic

from crmcore.errors import ConfigurationError

__all__ = ["compile_setter", "slot", "writable_twin"]


def slot(cls: type[Any], name: str) -> Any:
    """Return the descriptor of slot ``name`` of ``cls`` (the first definition in the MRO)."""
    for klass in cls.__mro__:
        if name in klass.__dict__:
            return klass.__dict__[name]
    raise ConfigurationError(f"{cls.__name__}.{name} has no slot")  # pragma: no cover - attrs slots


def compile_setter(
    cls: type[Any], parameters: str, values: Mapping[str, str]
) -> Callable[..., Any]:
    """Generate ``make(<parameters>)``: a new ``cls`` with each slot set to its expression.

    Like attrs' generated ``__init__``, straight-line code is several times
    faster than a loop over the field names; no converter or validator runs.
    The slots are written as plain attributes of a :func:`writable_twin` of
    ``cls`` which then becomes a ``cls``; without a twin, each is written by
    calling its slot descriptor (a call per field, about three times slower).
    """
    twin = writable_twin(cls, values)
    namespace: dict[str, Any] = {"new": cls.__new__, "cls": cls, "twin": twin}
    if twin is not None:
        lines = [f"def make({parameters}):", "    n = new(twin)"]
        lines.extend(f"    n.{name} = {value}" for name, value in values.items())
        lines.append("    n.__class__ = cls")
    else:
        lines = [f"def make({parameters}):", "    n = new(cls)"]
        for i, (name, value) in enumerate(values.items()):
            namespace[f"set{i}"] = slot(cls, name).__set__
            lines.append(f"    set{i}(n, {value})")
    lines.append("    return n")
    exec("\n".join(lines), namespace)  # noqa: S102 - code built from attrs field names
    make: Callable[..., Any] = namespace["make"]
    return make


def writable_twin(cls: type[Any], names: Iterable[str]) -> type[Any] | None:
    """Return an empty subclass of ``cls`` whose instances take plain attribute stores.

    A frozen attrs class refuses ``n.name = value`` (its ``__setattr__``
    raises). The twin adds no slot and restores object's ``__setattr__`` and
    ``__delattr__``, so CPython stores straight into the slots; an instance
    built as a twin becomes a ``cls`` by assigning ``__class__`` (allowed
    between classes of the same layout), and nothing else ever sees it.
    ``None`` (write each slot through its descriptor) unless ``cls`` is a
    plain class: metaclass ``type``, object's ``__new__``, no
    ``__init_subclass__`` that would see the twin (``Generic``'s only sets
    the twin's parameters), slots for every name.
    """
    plain = (
        type(cls) is type
        and cls.__new__ is _OBJECT_NEW
        and not any(
            "__init_subclass__" in klass.__dict__
            for klass in cls.__mro__
            if klass not in _HARMLESS_HOOKS
        )
        and all(not name.startswith("__") and _has_slot(cls, name) for name in names)
    )
    if not plain:
        return None
    twin = type(
        f"_Writable{cls.__name__}",
        (cls,),
        {
            "__slots__": (),
            "__setattr__": object.__setattr__,
            "__delattr__": object.__delattr__,
            "__module__": __name__,
        },
    )
    probe: Any = object.__new__(twin)
    try:
        probe.__class__ = cls
    except TypeError:  # pragma: no cover - an empty subclass always has the same layout
        return None
    return twin


_OBJECT_NEW: Any = object.__new__
# Their __init_subclass__ only looks at the new subclass itself (Generic sets its parameters).
_HARMLESS_HOOKS = (object, Generic)


def _has_slot(cls: type[Any], name: str) -> bool:
    """Return whether ``cls.name`` is a slot (the first definition in the MRO is one)."""
    for klass in cls.__mro__:
        if name in klass.__dict__:
            return isinstance(klass.__dict__[name], types.MemberDescriptorType)
    return False
