"""``crmcore demo``: the library at work on a small bilingual sample."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

import pendulum

from crmcore.cli.console import Console
from crmcore.domain import (
    CustomerId,
    Organization,
    Person,
    PersonName,
    Tier,
    UserId,
    classify,
    register_customer,
    tag,
)
from crmcore.domain.normalize import normalize_emails, normalize_phones
from crmcore.errors import InvalidValueError
from crmcore.serialization import dumps

__all__ = ["add_parser", "run", "run_demo"]


def add_parser(commands: Any) -> None:
    """Register ``demo`` on the command's sub-parsers."""
    parser = commands.add_parser("demo", help="run the library over a bilingual sample CRM")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, console: Console) -> int:
    """Run ``crmcore demo``; return the exit code."""
    del args
    return run_demo(console.out)


_RAW = [
    ("张伟", "138 0013 8000", "Zhang.Wei@Example.COM"),
    ("Li Na", "+86 (139) 1234-5678", "li.na@example.cn"),
    ("王芳", "12345", "not-an-email"),
    ("John Smith", "+1 415 555 2671", "john@example.com"),
]


def run_demo(out: TextIO) -> int:
    """Normalise a sample, register customers, classify one, and print the result."""
    at = pendulum.datetime(2026, 11, 23, 9, tz="Asia/Shanghai")
    phones = normalize_phones([p for _, p, _ in _RAW], region="CN")
    emails = normalize_emails([e for _, _, e in _RAW])
    out.write("crmcore demo — normalise, validate, register\n\n")
    for index, ((name, raw_phone, raw_email), phone, email) in enumerate(
        zip(_RAW, phones, emails, strict=True), start=1
    ):
        problems = [str(v) for v in (phone, email) if isinstance(v, InvalidValueError)]
        if problems:
            out.write(f"row {index} {name}: rejected — {'; '.join(problems)}\n")
            continue
        assert not isinstance(phone, InvalidValueError)  # noqa: S101 - narrowed above for mypy
        out.write(f"row {index} {name}: {raw_phone!r} → {phone[0]}, {raw_email!r} → {email}\n")
    customer, event = register_customer(
        id=CustomerId("c-1"),
        person=Person(name=PersonName.parse("张伟")),
        at=at,
        by=UserId("u-li"),
    )
    customer, _ = tag(customer, "VIP", at=at)
    customer, classified = classify(customer, tier=Tier.VIP, reason="annual spend > ¥1M", at=at)
    org, _ = register_customer(
        id=CustomerId("c-2"), organization=Organization(legal_name="深圳市腾达科技有限公司"), at=at
    )
    out.write(f"\n{type(event).__name__}: {customer.display_name} ({customer.id})\n")
    out.write(f"{type(classified).__name__}: {classified.previous_tier} → {classified.tier}\n")
    out.write(f"organisation: {org.display_name}\n\nas JSON: {dumps(customer)[:160]}…\n")
    return 0
