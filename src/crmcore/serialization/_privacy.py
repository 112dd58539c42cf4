"""cattrs hooks for the privacy payloads (private; use :mod:`crmcore.serialization`).

An :class:`~crmcore.privacy.access.AccessPolicy` is read and written in the form
of :meth:`~crmcore.privacy.access.AccessPolicy.to_dict` (roles by name, grants as
``action -> record type -> scopes``), the form ``crmcore export --policy`` reads.
Consent records and withdrawals are plain attrs classes and need no hook.
"""

from __future__ import annotations

from cattrs.preconf.json import JsonConverter

from crmcore.privacy.access import AccessPolicy

__all__ = ["configure_privacy"]


def _structure_policy(value: object, _: type) -> AccessPolicy:
    if isinstance(value, AccessPolicy):
        return value
    return AccessPolicy.from_dict(value)


def configure_privacy(converter: JsonConverter) -> None:
    """Register the hooks for access policies on ``converter``."""
    converter.register_unstructure_hook(AccessPolicy, AccessPolicy.to_dict)
    converter.register_structure_hook(AccessPolicy, _structure_policy)
