"""Benchmark the phone and email fast paths against the libraries they replay.

Run: ``python benchmarks/bench_normalisation.py [--n 100000] [--repeat 3] [--chunk 5000]``

On ``n`` unique realistic values (see ``realistic.py``: CN/US/GB/DE/JP numbers
in varied formats, realistic addresses), times in the same run, best of
``repeat``:

* phones: ``phonenumbers.parse`` + ``format_number(E164)`` per value; the same
  plus ``is_valid_number`` (what the slow path does); ``normalize_phones``;
* emails: ``email_validator.validate_email(check_deliverability=False)`` per
  value; ``normalize_emails``;

then prints a table with microseconds per value, the speed-up over each
baseline and the fraction of inputs the fast path answered. Nothing is cached
by raw input: every value is unique and every run starts from the same list.

The values are timed in chunks of ``chunk``: each chunk is run by every
workload in turn, ``repeat`` times, and a workload's time is the sum over
chunks of its best time per chunk. On a shared machine, load then changes
every row alike and the ratios stay fair.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable, Sequence

import email_validator
import phonenumbers

import realistic
from crmcore.domain import normalize

E164 = phonenumbers.PhoneNumberFormat.E164


def best_times(repeat: int, rounds: list[dict[str, Callable[[], object]]]) -> dict[str, float]:
    """Sum, over chunks, each workload's fastest time of ``repeat`` tries, in seconds.

    Each element of ``rounds`` maps workload names to a run over one chunk;
    the workloads of a chunk are interleaved, try by try.
    """
    total = dict.fromkeys(rounds[0], 0.0)
    for runs in rounds:
        best = dict.fromkeys(runs, float("inf"))
        for _ in range(repeat):
            for name, run in runs.items():
                gc.collect()
                start = time.perf_counter()
                run()
                best[name] = min(best[name], time.perf_counter() - start)
        for name, seconds in best.items():
            total[name] += seconds
    return total


def chunk_runs(
    pairs: Sequence[tuple[str, str]], emails: Sequence[str]
) -> dict[str, Callable[[], object]]:
    """Return the five workloads over one chunk of phones and emails."""
    by_region: dict[str, list[str]] = {}
    for raw, region in pairs:
        by_region.setdefault(region, []).append(raw)

    def ours_phones() -> None:
        for region, raws in by_region.items():
            normalize.normalize_phones(raws, region)

    return {
        "parse": lambda: phones_parse_format(pairs),
        "valid": lambda: phones_parse_valid_format(pairs),
        "phones": ours_phones,
        "validate": lambda: emails_validate(emails),
        "emails": lambda: normalize.normalize_emails(emails),
    }


def phones_parse_format(pairs: Sequence[tuple[str, str]]) -> int:
    rejected = 0
    for raw, region in pairs:
        try:
            phonenumbers.format_number(phonenumbers.parse(raw, region), E164)
        except phonenumbers.NumberParseException:
            rejected += 1
    return rejected


def phones_parse_valid_format(pairs: Sequence[tuple[str, str]]) -> None:
    for raw, region in pairs:
        try:
            number = phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            phonenumbers.format_number(number, E164)


def emails_validate(raws: Sequence[str]) -> int:
    rejected = 0
    for raw in raws:
        try:
            email_validator.validate_email(raw, check_deliverability=False)
        except email_validator.EmailNotValidError:
            rejected += 1
    return rejected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="values of each kind")
    parser.add_argument("--repeat", type=int, default=3, help="tries per chunk (best is kept)")
    parser.add_argument("--chunk", type=int, default=5_000, help="values timed together")
    args = parser.parse_args()
    n: int = args.n
    repeat: int = args.repeat
    chunk: int = args.chunk

    pairs = realistic.realistic_phones(n)
    by_region: dict[str, list[str]] = {}
    for raw, region in pairs:
        by_region.setdefault(region, []).append(raw)
    emails = realistic.realistic_emails(n)

    # Warm the per-region caches once, as any long-running import would.
    for region, raws in by_region.items():
        normalize.normalize_phones(raws[:100], region)
    normalize.normalize_emails(emails[:100])

    best = best_times(
        repeat,
        [
            chunk_runs(pairs[start : start + chunk], emails[start : start + chunk])
            for start in range(0, n, chunk)
        ],
    )
    t_parse, t_valid, t_phones = best["parse"], best["valid"], best["phones"]
    t_validate, t_emails = best["validate"], best["emails"]

    # What the fast paths decided on their own (a result, or an exact rejection).
    phone_fast = [
        normalize._phone_fast(raw.strip(), normalize._plan(region), region) for raw, region in pairs
    ]
    phone_hits = sum(result is not None for result in phone_fast)
    phone_fast_ok = sum(isinstance(result, tuple) for result in phone_fast)
    special = normalize._special_use_suffixes()
    email_hits = sum(normalize._email_fast(raw.strip(), special) is not None for raw in emails)
    phone_ok = sum(
        not isinstance(result, Exception)
        for region, raws in by_region.items()
        for result in normalize.normalize_phones(raws, region)
    )
    email_ok = sum(not isinstance(r, Exception) for r in normalize.normalize_emails(emails))

    def us(seconds: float) -> str:
        return f"{seconds / n * 1e6:8.2f}"

    print(
        f"normalisation benchmark: n={n} unique values of each kind, "
        f"best of {repeat} per chunk of {chunk}"
    )
    print(f"{'what':58} {'µs/value':>8} {'speed-up':>9}")
    print("-" * 77)
    print(f"{'phones  phonenumbers parse + format_number(E164)':58} {us(t_parse)} {'1.0x':>9}")
    print(f"{'phones  phonenumbers parse + is_valid_number + format':58} {us(t_valid)} {'1.0x':>9}")
    print(
        f"{'phones  crmcore normalize_phones (bulk)':58} {us(t_phones)} "
        f"{t_parse / t_phones:8.1f}x  (vs parse+format)"
    )
    print(f"{'':58} {'':8} {t_valid / t_phones:8.1f}x  (vs parse+valid+format)")
    print(f"{'emails  email_validator.validate_email':58} {us(t_validate)} {'1.0x':>9}")
    print(
        f"{'emails  crmcore normalize_emails (bulk)':58} {us(t_emails)} "
        f"{t_validate / t_emails:8.1f}x"
    )
    print("-" * 77)
    print(
        f"phones: {phone_ok / n:.1%} valid; fast path decided {phone_hits}/{n} "
        f"({phone_fast_ok} accepted, {phone_hits - phone_fast_ok} rejected exactly), "
        f"{n - phone_hits} went to phonenumbers"
    )
    print(
        f"emails: {email_ok / n:.1%} valid; fast path accepted {email_hits}/{n}, "
        f"{n - email_hits} went to email_validator"
    )


if __name__ == "__main__":
    main()
