"""Terminal output for the ``crmcore`` command: rich when installed, plain text otherwise.

The ``cli`` extra installs rich (tables, progress bars with rows/s and ETA);
without it every command still works and prints plain text.
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, TextIO

from crmcore.i18n import DEFAULT_LOCALE, Locale, enum_key, text

__all__ = ["Console", "Progress", "console"]


class Progress(Protocol):
    """Advance a progress display to ``done`` items."""

    def __call__(self, done: int) -> None:
        """Record that ``done`` items are processed."""
        ...


class Console:
    """Writes tables, messages and progress to a terminal.

    Table titles and headings are shown in :attr:`locale` (``crmcore --lang``)
    where the label catalogue knows them (``cli.<English heading>``).
    """

    def __init__(
        self,
        out: TextIO | None = None,
        err: TextIO | None = None,
        *,
        locale: Locale = DEFAULT_LOCALE,
    ) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.locale: Locale = locale
        try:
            import rich.console  # noqa: PLC0415 - optional dependency (extra ``cli``)
        except ImportError:  # pragma: no cover - the test suite installs the cli extra
            self._rich: Any = None
            self._rich_err: Any = None
        else:
            self._rich = rich.console.Console(file=self.out, highlight=False, soft_wrap=True)
            self._rich_err = rich.console.Console(file=self.err, highlight=False)

    def print(self, text: str = "") -> None:
        """Write a line to standard output."""
        if self._rich is not None:
            self._rich.print(text, markup=False)
        else:  # pragma: no cover
            self.out.write(text + "\n")

    def error(self, text: str) -> None:
        """Write a message to standard error."""
        self.err.write(text + "\n")

    def label(self, heading: str) -> str:
        """Return a heading of the command's output in :attr:`locale` (itself when unknown)."""
        return text(f"cli.{heading}", heading, self.locale)

    def value(self, member: enum.Enum) -> str:
        """Return an enum value as a table cell shows it: its value, or its label in Chinese."""
        if self.locale == DEFAULT_LOCALE:
            return str(member.value)
        return text(enum_key(member), str(member.value), self.locale)

    def table(self, title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        """Write a table to standard output, its title and headings in :attr:`locale`."""
        title = self.label(title)
        headers = [self.label(h) for h in headers]
        if self._rich is not None:
            from rich.table import Table  # noqa: PLC0415 - optional dependency

            table = Table(title=title, title_justify="left")
            for header in headers:
                table.add_column(header)
            for row in rows:
                table.add_row(*(str(v) for v in row))
            self._rich.print(table)
            return
        self.out.write(f"{title}\n")  # pragma: no cover
        for row in (headers, *rows):  # pragma: no cover
            self.out.write("  ".join(str(v) for v in row) + "\n")

    @contextmanager
    def progress(self, description: str, total: int | None) -> Iterator[Progress]:
        """Show a progress bar (rows/s, ETA) on standard error while the block runs.

        The bar appears only on an interactive terminal: piped or redirected
        output, and a dumb terminal (``TERM=dumb``), get no bar and no escape
        codes. ``NO_COLOR`` keeps the bar but drops its colours.

        Args:
            description: What is being done, shown left of the bar.
            total: How many items there are, or None when unknown.

        Yields:
            A function to call with the number of items done so far.
        """
        if not self._shows_progress():
            yield _quiet
            return
        from rich.progress import (  # noqa: PLC0415 - optional dependency
            BarColumn,
            MofNCompleteColumn,
            TaskProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichProgress  # noqa: PLC0415

        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            _rate_column(),
            TimeRemainingColumn(),
        )
        with RichProgress(*columns, console=self._rich_err, transient=True) as bar:
            task = bar.add_task(description, total=total)

            def advance(done: int) -> None:
                bar.update(task, completed=done)

            yield advance

    def _shows_progress(self) -> bool:
        """Whether standard error is a terminal that can redraw a progress bar."""
        if self._rich_err is None:
            return False
        try:
            is_tty = self.err.isatty()
        except (AttributeError, ValueError):  # a stream without isatty, or closed
            return False
        return bool(is_tty and self._rich_err.is_interactive)


def _rate_column() -> Any:
    """Return a rich progress column showing ``<n> rows/s`` once the rate is known."""
    from rich.progress import ProgressColumn, Task  # noqa: PLC0415 - optional dependency
    from rich.text import Text  # noqa: PLC0415

    class RateColumn(ProgressColumn):
        """Items per second, blank until rich has measured a rate."""

        def render(self, task: Task) -> Text:
            """Render the rate of ``task``, or nothing before the first sample."""
            speed = task.finished_speed or task.speed
            if speed is None:
                return Text("", style="progress.data.speed")
            return Text(f"{speed:>8,.0f} rows/s", style="progress.data.speed")

    return RateColumn()


def _quiet(done: int) -> None:
    del done


def console() -> Console:
    """Return a console on the process's standard streams."""
    return Console()
