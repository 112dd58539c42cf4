"""Access, privacy and audit: access policies, the consent ledger, subject requests, audit.

Pure and storage-free like :mod:`crmcore.segments`: policies are data that evaluate in
memory and that the adapters compile to SQL and polars; the audit chain is SHA-256
over canonical JSON (stdlib :mod:`hashlib`).

May import: ``crmcore.domain``, ``crmcore.lifecycle``, ``crmcore.segments``,
``crmcore.errors``, ``crmcore.clock``.
"""

__all__: list[str] = []
