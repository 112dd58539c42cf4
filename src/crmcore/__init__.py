"""crmcore: the business rules of a CRM as a typed, embeddable Python library.

The top-level namespace re-exports what most hosts need; everything else is
in its subpackage (``crmcore.domain``, ``crmcore.serialization`` …).
Importing crmcore has no side effects.
"""

from crmcore.clock import Clock, FixedClock, SystemClock, utc
from crmcore.domain import (
    Activity,
    Case,
    Consent,
    Customer,
    CustomerId,
    EmailAddress,
    Lead,
    Money,
    Opportunity,
    Order,
    PersonName,
    PhoneNumber,
    PostalAddress,
    SurveyResponse,
    Tag,
    UserId,
)
from crmcore.errors import (
    ConcurrencyError,
    ConfigurationError,
    CrmError,
    DuplicateError,
    InvalidValueError,
    NotFoundError,
    PayloadError,
    PermissionDeniedError,
    Problem,
    StaleVersionError,
    StorageError,
    TransitionNotAllowedError,
    WorkflowDefinitionError,
)

__version__ = "0.1.0"

__all__ = [
    "Activity",
    "Case",
    "Clock",
    "ConcurrencyError",
    "ConfigurationError",
    "Consent",
    "CrmError",
    "Customer",
    "CustomerId",
    "DuplicateError",
    "EmailAddress",
    "FixedClock",
    "InvalidValueError",
    "Lead",
    "Money",
    "NotFoundError",
    "Opportunity",
    "Order",
    "PayloadError",
    "PermissionDeniedError",
    "PersonName",
    "PhoneNumber",
    "PostalAddress",
    "Problem",
    "StaleVersionError",
    "StorageError",
    "SurveyResponse",
    "SystemClock",
    "Tag",
    "TransitionNotAllowedError",
    "UserId",
    "WorkflowDefinitionError",
    "__version__",
    "utc",
]
