"""Alembic's environment for crmcore's migrations (see :mod:`crmcore.adapters.sql.migrations`).

May import: ``crmcore.adapters.sql.migrations``; Alembic.
"""

from alembic import context

from crmcore.adapters.sql.migrations import run_environment

run_environment(context)
