"""Seeded, realistic bilingual CRM sample data with known duplicate clusters.

For tests, benchmarks and ``crmcore demo``: :func:`generate_contacts` yields
contact rows (Chinese and English, every real-world variation) with their
true ``cluster``; :func:`write_csv` writes them.

May import: ``crmcore.domain``, ``crmcore.errors``, ``crmcore.clock``;
attrs, pendulum; ``random`` from the standard library.
"""

from crmcore.sample.contact import SAMPLE_COLUMNS, SampleOptions, generate_contacts, write_csv

__all__ = ["SAMPLE_COLUMNS", "SampleOptions", "generate_contacts", "write_csv"]
