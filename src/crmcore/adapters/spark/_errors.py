"""Spark's exceptions as crmcore errors: nothing from pyspark escapes a public function.

An error raised by crmcore code on an executor (a cell that is not text) reaches the
driver as a :class:`pyspark.errors.PythonException` carrying the remote traceback as
text; the crmcore error named last in it is raised again here, with its message.
Anything else Spark refuses (a missing column, a type it cannot compare) becomes a
:class:`~crmcore.errors.ConfigurationError` naming Spark's reason.

May import: ``crmcore.errors``; pyspark.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Final

from pyspark.errors import PySparkException, PythonException

from crmcore.errors import ConfigurationError, CrmError, InvalidValueError

__all__ = ["spark_errors"]

_REMOTE: Final = re.compile(r"crmcore\.errors\.(\w+): ([^\n]*)")


def _translate(error: Exception) -> CrmError:
    text = str(error)
    found = _REMOTE.findall(text)
    if isinstance(error, PythonException) and found:
        kind, message = found[-1]
        if kind == "InvalidValueError":
            return InvalidValueError("record (read on a Spark executor)", None, message)
        return ConfigurationError(message)
    first = next((line for line in text.splitlines() if line.strip()), type(error).__name__)
    return ConfigurationError(f"Spark refused the query: {first.strip()}")


@contextlib.contextmanager
def spark_errors() -> Iterator[None]:
    """Raise Spark's exceptions inside the block as crmcore errors."""
    try:
        yield
    except (PySparkException, PythonException) as error:
        raise _translate(error) from error
