"""The one exception tree of crmcore.

Every error crmcore raises derives from :class:`CrmError` and also from the
nearest built-in exception, so ``except ValueError`` keeps working for
callers that do not know crmcore. Each error carries structured fields and
builds its message from them: *what, which value, why*.

Third-party exceptions (phonenumbers, email-validator, cattrs, SQLAlchemy)
are translated at the edge and never escape.

This module imports nothing from crmcore.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = [
    "ConcurrencyError",
    "ConfigurationError",
    "CrmError",
    "DecryptionError",
    "DuplicateError",
    "ErasedError",
    "InvalidValueError",
    "MissingExtraError",
    "ModelFitError",
    "NotFoundError",
    "PayloadError",
    "PermissionDeniedError",
    "Problem",
    "StaleVersionError",
    "StorageError",
    "TransitionNotAllowedError",
    "WorkflowDefinitionError",
    "shown",
]


class CrmError(Exception):
    """Root of every error crmcore raises."""


_SHOWN_CHARS = 80


def shown(value: object) -> str:
    """Return ``value`` as an error message quotes it: its ``repr``, but never a huge one.

    A long text is cut to its first 80 characters plus its length; a big
    collection or number is described by its size. So a 1 MB email gives a
    short message, not a 1 MB one.

    >>> shown("13800138000")
    "'13800138000'"
    >>> shown("a" * 1000)
    "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa…' (1,000 ..."
    >>> shown(10**5000)
    'an integer of 5,001 digits'
    """
    if isinstance(value, str | bytes) and len(value) > 2 * _SHOWN_CHARS:
        head = repr(value[:_SHOWN_CHARS])
        return f"{head[:-1]}…{head[-1]} ({len(value):,} characters)"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        bits = value.bit_length()
        digits = len(str(abs(value))) if bits < 13_000 else int(bits * 0.30103) + 1
        return f"an integer of {digits:,} digits"
    if isinstance(value, list | tuple | set | frozenset | dict) and len(value) > 20:
        return f"a {type(value).__name__} of {len(value):,} items"
    text = repr(value)
    if len(text) > 4 * _SHOWN_CHARS:
        return text[: 2 * _SHOWN_CHARS] + f"… ({len(text):,} characters)"
    return text


class InvalidValueError(CrmError, ValueError):
    """A value does not satisfy the rules of the field it is meant for.

    Attributes:
        field: The name of the field or value type (``"phone"``, ``"email"``).
        value: The offending input, as given.
        reason: Why it was rejected.
    """

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"invalid {field} {shown(value)}: {reason}")

    def __reduce__(self) -> tuple[type[InvalidValueError], tuple[str, object, str]]:
        return (type(self), (self.field, self.value, self.reason))


class Problem:
    """One problem found in a payload, located by a JSONPath-like ``path``."""

    __slots__ = ("message", "path")

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message

    def __repr__(self) -> str:
        return f"Problem({self.path!r}, {self.message!r})"

    def __str__(self) -> str:
        return f"{self.message} @ {self.path}"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Problem):
            return NotImplemented
        return (self.path, self.message) == (other.path, other.message)

    def __hash__(self) -> int:
        return hash((self.path, self.message))


class PayloadError(CrmError, ValueError):
    """A payload (JSON document, import row) has one or more problems.

    All problems of one payload are reported together, each with its path
    (``$.emails[1].address``). The message lists the first
    :attr:`MAX_LISTED` of them and counts the rest:

    >>> many = [Problem(f"$.tags[{i}]", "expected a string") for i in range(25)]
    >>> str(PayloadError("Customer", many)).splitlines()[-2:]
    ['  expected a string @ $.tags[19]', '  … and 5 more']

    Attributes:
        problems: Every problem found, in document order.
        subject: What was being read (a type name, ``"row 17"``).
    """

    MAX_LISTED = 20
    """The most problems the message lists; :attr:`problems` has them all."""

    def __init__(self, subject: str, problems: Iterable[Problem]) -> None:
        self.subject = subject
        self.problems: tuple[Problem, ...] = tuple(problems)
        lines = "\n".join(f"  {p}" for p in self.problems[: self.MAX_LISTED])
        count = len(self.problems)
        if count > self.MAX_LISTED:
            lines += f"\n  … and {count - self.MAX_LISTED:,} more"
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"invalid {subject} ({count} {noun}):\n{lines}")

    def __reduce__(self) -> tuple[type[PayloadError], tuple[str, tuple[Problem, ...]]]:
        return (type(self), (self.subject, self.problems))

    @property
    def paths(self) -> tuple[str, ...]:
        """The path of every problem, in order."""
        return tuple(p.path for p in self.problems)


class NotFoundError(CrmError, LookupError):
    """No record of a kind exists with the given id."""

    def __init__(self, kind: str, id: object) -> None:
        self.kind = kind
        self.id = id
        super().__init__(f"{kind} {id!r} not found")

    def __reduce__(self) -> tuple[type[NotFoundError], tuple[str, object]]:
        return (type(self), (self.kind, self.id))


class DuplicateError(CrmError, ValueError):
    """A record would duplicate an existing one where duplicates are blocked."""

    def __init__(self, kind: str, id: object, duplicates: Sequence[object]) -> None:
        self.kind = kind
        self.id = id
        self.duplicates = tuple(duplicates)
        super().__init__(f"{kind} {id!r} duplicates existing {list(self.duplicates)!r}")

    def __reduce__(self) -> tuple[type[DuplicateError], tuple[str, object, tuple[object, ...]]]:
        return (type(self), (self.kind, self.id, self.duplicates))


class ConcurrencyError(CrmError, RuntimeError):
    """A concurrent change prevented an operation."""


class StaleVersionError(ConcurrencyError):
    """A save carried a version older than the stored one (optimistic locking)."""

    def __init__(self, kind: str, id: object, expected: int, actual: int | None) -> None:
        self.kind = kind
        self.id = id
        self.expected = expected
        self.actual = actual
        stored = "no stored row" if actual is None else f"stored version is {actual}"
        super().__init__(f"stale {kind} {id!r}: saved with version {expected}, {stored}")

    def __reduce__(
        self,
    ) -> tuple[type[StaleVersionError], tuple[str, object, int, int | None]]:
        return (type(self), (self.kind, self.id, self.expected, self.actual))


class TransitionNotAllowedError(CrmError, ValueError):
    """A workflow transition was attempted from a state that does not allow it."""

    def __init__(
        self,
        workflow: str,
        transition: str,
        state: str,
        allowed: Sequence[str],
        reason: str = "",
    ) -> None:
        self.workflow = workflow
        self.transition = transition
        self.state = state
        self.allowed = tuple(allowed)
        self.reason = reason
        allowed_text = ", ".join(self.allowed) if self.allowed else "none"
        why = f" ({reason})" if reason else ""
        super().__init__(
            f"{workflow}: can't {transition} when in {state}{why}; allowed: {allowed_text}"
        )

    def __reduce__(
        self,
    ) -> tuple[type[TransitionNotAllowedError], tuple[str, str, str, tuple[str, ...], str]]:
        return (
            type(self),
            (self.workflow, self.transition, self.state, self.allowed, self.reason),
        )


class WorkflowDefinitionError(CrmError, ValueError):
    """A workflow definition is inconsistent (found when it is built)."""

    def __init__(self, workflow: str, problems: Sequence[str]) -> None:
        self.workflow = workflow
        self.problems = tuple(problems)
        super().__init__(f"invalid workflow {workflow!r}: " + "; ".join(self.problems))

    def __reduce__(
        self,
    ) -> tuple[type[WorkflowDefinitionError], tuple[str, tuple[str, ...]]]:
        return (type(self), (self.workflow, self.problems))


class PermissionDeniedError(CrmError, PermissionError):
    """An actor may not perform an action on a record."""

    def __init__(self, actor: object, action: str, target: object, reason: str = "") -> None:
        self.actor = actor
        self.action = action
        self.target = target
        self.reason = reason
        why = f": {reason}" if reason else ""
        super().__init__(f"{actor!r} may not {action} {target!r}{why}")

    def __reduce__(
        self,
    ) -> tuple[type[PermissionDeniedError], tuple[object, str, object, str]]:
        return (type(self), (self.actor, self.action, self.target, self.reason))


class StorageError(CrmError, RuntimeError):
    """A storage adapter failed (connection lost, constraint violated ...)."""

    def __init__(self, operation: str, reason: str, field: str | None = None) -> None:
        self.operation = operation
        self.reason = reason
        self.field = field
        where = f" (field {field})" if field else ""
        super().__init__(f"{operation} failed{where}: {reason}")

    def __reduce__(self) -> tuple[type[StorageError], tuple[str, str, str | None]]:
        return (type(self), (self.operation, self.reason, self.field))


class DecryptionError(CrmError, ValueError):
    """An encrypted value cannot be read.

    It was tampered with, is another subject's or field's, is not a
    ciphertext at all, or was erased (:class:`ErasedError`).
    """

    def __init__(self, subject: str, field: str, reason: str) -> None:
        self.subject = subject
        self.field = field
        self.reason = reason
        super().__init__(f"cannot decrypt {field!r} of subject {subject!r}: {reason}")

    def __reduce__(self) -> tuple[type[DecryptionError], tuple[str, str, str]]:
        return (type(self), (self.subject, self.field, self.reason))


class ErasedError(DecryptionError):
    """The subject's key was deleted (crypto-shredding): the value is erased for good."""

    def __init__(
        self, subject: str, field: str, reason: str = "the subject's key was deleted"
    ) -> None:
        super().__init__(subject, field, reason)

    def __reduce__(self) -> tuple[type[ErasedError], tuple[str, str, str]]:
        return (type(self), (self.subject, self.field, self.reason))


class ConfigurationError(CrmError, ValueError):
    """crmcore was wired or configured inconsistently by the host."""


class MissingExtraError(CrmError, ImportError):
    """A crmcore module needs an optional dependency (an *extra*) that is not installed.

    Also an :class:`ImportError`, so ``except ImportError`` around an optional
    import keeps working.

    Attributes:
        extra: The extra that installs the dependency (``"sql"``, ``"frames"``).
        module: The crmcore module that needs it (``"crmcore.adapters.sql"``).
        missing: The top-level module that could not be imported (``"sqlalchemy"``).
    """

    def __init__(self, extra: str, module: str, missing: str = "") -> None:
        self.extra = extra
        self.module = module
        self.missing = missing
        super().__init__(
            f"{module} needs the {extra!r} extra: pip install 'crmcore[{extra}]'",
            name=missing or None,
        )

    def __reduce__(self) -> tuple[type[MissingExtraError], tuple[str, str, str]]:
        return (type(self), (self.extra, self.module, self.missing))


class ModelFitError(CrmError, RuntimeError):
    """A statistical model could not be fitted to the data it was given.

    Raised when the optimiser does not converge, or when the maximum lies at (or
    near) a bound of the parameter space, which means the data do not identify
    the model. The flagged fit is kept so a caller can inspect it.

    >>> str(ModelFitError("BG/NBD", "parameter a is at a bound"))
    'BG/NBD fit failed: parameter a is at a bound'

    Attributes:
        model: The model's name (``"BG/NBD"``, ``"Gamma-Gamma"``).
        reason: Why the fit is not usable.
        fit: The flagged fit result, or None if there is none.
    """

    def __init__(self, model: str, reason: str, fit: object = None) -> None:
        self.model = model
        self.reason = reason
        self.fit = fit
        super().__init__(f"{model} fit failed: {reason}")

    def __reduce__(self) -> tuple[type[ModelFitError], tuple[str, str, object]]:
        return (type(self), (self.model, self.reason, self.fit))
