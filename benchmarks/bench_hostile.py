"""One call of each crmcore entry point on a 1 MB hostile input: time and peak memory.

The inputs are those of ``tests/contract/test_fuzz_boundaries.py`` (a 1 MB string where a
list belongs, a 1 MB email, phone, name, amount, timestamp and pattern, 1 MB of nested
rule JSON, a 1 MB JSON list, a CSV with a 1 MB cell). The baseline is ``json.loads`` of
1 MB of JSON text, the least any JSON entry point does with such an input; the target is
at most 1 s and 200 MB per call. Each case runs in its own process, so its peak resident
memory (``ru_maxrss``, which sees polars and C allocations too) is its own.

Run: ``python benchmarks/bench_hostile.py [--repeat 3]`` (prints a table).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _cases(tmp: Path) -> dict[str, object]:
    sys.path.insert(0, str(ROOT / "tests" / "contract"))
    import test_fuzz_boundaries as fuzz  # type: ignore[import-not-found]  # noqa: PLC0415 - the inputs live with the test

    cases: dict[str, object] = {"baseline: json.loads of 1 MB": _baseline}
    cases.update(dict(fuzz._megabyte_cases(tmp)))
    return cases


def _baseline() -> object:
    return json.loads(json.dumps(["x" * 100] * 10_000))


def _measure(name: str, repeat: int, queue: multiprocessing.Queue[tuple[float, float]]) -> None:
    from crmcore.errors import CrmError  # noqa: PLC0415 - imported in the child

    with tempfile.TemporaryDirectory() as folder:
        call = _cases(Path(folder))[name]
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            with contextlib.suppress(CrmError):
                call()  # type: ignore[operator]
            best = min(best, time.perf_counter() - start)
    queue.put((best, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        names = list(_cases(Path(folder)))
    context = multiprocessing.get_context("spawn")
    rows = []
    for name in names:
        queue: multiprocessing.Queue[tuple[float, float]] = context.Queue()
        process = context.Process(target=_measure, args=(name, args.repeat, queue))
        process.start()
        seconds, megabytes = queue.get()
        process.join()
        rows.append((name, seconds, megabytes))
    base = rows[0][1]
    print(f"{'case (1 MB input)':<42} {'seconds':>9} {'× json':>8} {'peak RSS MB':>12}")
    for name, seconds, megabytes in rows:
        print(f"{name:<42} {seconds:>9.4f} {seconds / base:>8.2f} {megabytes:>12.0f}")


if __name__ == "__main__":
    main()
