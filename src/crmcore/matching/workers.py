"""Worker processes: how they start, what they are sent, what happens when they cannot.

The one policy for process pools in crmcore, used by key building
(:mod:`crmcore.matching.feature`) and import cleaning
(:mod:`crmcore.services.cleaning`); public so both can share it, not an API
hosts are expected to need:

- Workers start with ``"spawn"`` unless the caller asks for ``"fork"``
  (a forked worker inherits the caller's threads, locks and open database
  connections; only a process that holds none may ask for it).
- A worker that cannot start or dies (an unguarded ``__main__``, a killed
  process) is not an error: the job it would have run runs here instead.
- Worker state (such as key options) is built once per worker, by a
  module-level function the pool is given, and passed to every job last.

It also holds the wire format of rows of text fields (one string, cheap to
pickle) and :func:`paused_gc`, the cyclic garbage collector's pause while
millions of small acyclic objects are built.

May import: ``crmcore.errors``; the standard library only.
"""

from __future__ import annotations

import concurrent.futures
import concurrent.futures.process
import contextlib
import gc
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Final, Literal, TypeAlias, TypeVar

__all__ = [
    "MAX_WORKERS",
    "Field",
    "StartMethod",
    "WireRows",
    "default_workers",
    "in_worker",
    "pack",
    "paused_gc",
    "result_or_here",
    "start_pool",
    "submit",
    "unpack",
]

StartMethod: TypeAlias = Literal["spawn", "fork", "forkserver"]
"""How worker processes start (see :mod:`multiprocessing`)."""

Field: TypeAlias = str | tuple[str, ...]
"""A field of a row sent to workers: text, or several texts (a multi-valued field)."""

WireRows: TypeAlias = str | list[tuple[Field, ...]]
"""Rows as sent to a worker: one string, or the rows themselves if a value holds a separator."""

_T = TypeVar("_T")

MAX_WORKERS: Final = 2
"""Workers started by default (one per core, at most this many)."""

_state: object = None


def default_workers(workers: int | None) -> int:
    """Return ``workers``, or by default one per core, at most :data:`MAX_WORKERS`."""
    return min(os.cpu_count() or 1, MAX_WORKERS) if workers is None else workers


def start_pool(
    workers: int,
    start_method: StartMethod = "spawn",
    state: tuple[Callable[..., object], tuple[object, ...]] | None = None,
    *,
    collect_cycles: bool = True,
) -> concurrent.futures.ProcessPoolExecutor:
    """Start a pool of worker processes.

    Args:
        workers: How many worker processes.
        start_method: How they start; ``"spawn"`` unless the caller holds no
            other threads, connections or locks.
        state: A module-level function and its arguments, called once in
            each worker; :func:`in_worker` passes its result to every job.
        collect_cycles: Leave the cyclic garbage collector on in the workers;
            ``False`` for workers that only build acyclic objects (see
            :func:`paused_gc`).

    Returns:
        The pool (the caller shuts it down).
    """
    return concurrent.futures.ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context(start_method),
        initializer=_init_worker,
        initargs=(state, collect_cycles),
    )


def _init_worker(  # pragma: no cover - runs in worker processes
    state: tuple[Callable[..., object], tuple[object, ...]] | None,
    collect_cycles: bool,
) -> None:
    global _state  # noqa: PLW0603 - one state object per worker process
    if not collect_cycles:
        gc.disable()
    if state is not None:
        make, arguments = state
        _state = make(*arguments)


def in_worker(  # pragma: no cover - runs in worker processes
    function: Callable[..., _T], *arguments: object
) -> _T:
    """Run ``function(*arguments, state)`` in a worker, ``state`` built by :func:`start_pool`."""
    return function(*arguments, _state)


def submit(
    pool: concurrent.futures.ProcessPoolExecutor, function: Callable[..., _T], *arguments: object
) -> concurrent.futures.Future[_T] | None:
    """Submit a job, or return ``None`` if the pool is broken or shut down (run it here then)."""
    try:
        return pool.submit(function, *arguments)
    except (concurrent.futures.process.BrokenProcessPool, RuntimeError):
        return None


def result_or_here(job: concurrent.futures.Future[_T] | None, here: Callable[[], _T]) -> _T:
    """Return the job's result; if it was never sent or its worker broke, ``here()``'s."""
    if job is None:
        return here()
    try:
        return job.result()
    except concurrent.futures.process.BrokenProcessPool:
        return here()


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector (process-wide) until the block ends.

    Building millions of small acyclic objects otherwise triggers full
    collections that rescan all of them; reference counting still frees
    everything as usual.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


_ROWS: Final = "\x1d"
_FIELDS: Final = "\x1f"
_VALUES: Final = "\x1e"


def pack(rows: Sequence[Sequence[Field]]) -> WireRows:
    """Return rows of fields as one string; the rows themselves if a value holds a separator.

    Args:
        rows: Rows of equal length; a field is text, or a tuple of texts
            (a multi-valued field such as phones).

    Returns:
        What :func:`unpack` reads back.
    """
    lines = []
    values = 0
    for row in rows:
        cells = []
        for field in row:
            if isinstance(field, tuple):
                values += max(len(field) - 1, 0)
                cells.append(_VALUES.join(field))
            else:
                cells.append(field)
        lines.append(_FIELDS.join(cells))
    text = _ROWS.join(lines)
    width = len(rows[0]) if rows else 0
    if (
        not rows
        or text.count(_ROWS) != len(rows) - 1
        or text.count(_FIELDS) != (width - 1) * len(rows)
        or text.count(_VALUES) != values
    ):
        return [tuple(row) for row in rows]
    return text


def unpack(packed: WireRows, multi: Sequence[int]) -> list[list[Field]]:
    """Read back what :func:`pack` wrote: one list of fields per row.

    Args:
        packed: What :func:`pack` returned.
        multi: The positions of the multi-valued fields.

    Returns:
        The rows, multi-valued fields as tuples.
    """
    if not isinstance(packed, str):
        return [list(row) for row in packed]
    out: list[list[Field]] = []
    for line in packed.split(_ROWS):
        cells: list[Field] = list(line.split(_FIELDS))
        for i in multi:
            text = cells[i]
            if isinstance(text, str):
                cells[i] = tuple(text.split(_VALUES)) if text else ()
        out.append(cells)
    return out
