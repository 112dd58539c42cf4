"""One label catalogue, in English and Chinese (zh_CN), for everything a person reads.

Every enum value, workflow stage and transition, field name, payload type,
KPI name, error kind and common error reason has a key and a text in each
locale. Keys are ``<namespace>.<name>``:

- ``enum.<EnumClass>.<value>`` — ``enum.LifecycleStage.potential``;
- ``workflow.<workflow>.state.<state>`` and ``workflow.<workflow>.transition.<name>``;
- ``field.<attribute>`` — ``field.lifecycle_stage``; ``type.<Class>`` — ``type.Customer``;
- ``kpi.<KPI name>`` — ``kpi.churn rate``; ``error.<ErrorClass>``;
- ``reason.<English reason>`` and ``cli.<English heading>``.

>>> label("enum.LifecycleStage.potential", "zh_CN")
'潜在客户'
>>> label("enum.OpportunityStage.won", "zh_CN"), label("enum.OpportunityStage.won")
('成交', 'won')
>>> label("kpi.net promoter score", "zh_CN")
'净推荐值'
>>> label("enum.RfmSegment.at_risk", "zh-CN")
'流失预警'

May import: ``crmcore.errors``; no third-party module.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Literal, TypeAlias

from crmcore.errors import (
    CrmError,
    DuplicateError,
    InvalidValueError,
    MissingExtraError,
    ModelFitError,
    NotFoundError,
    PayloadError,
    PermissionDeniedError,
    StaleVersionError,
    StorageError,
    TransitionNotAllowedError,
    WorkflowDefinitionError,
    shown,
)
from crmcore.i18n._catalogue import ENTRIES

__all__ = [
    "DEFAULT_LOCALE",
    "LOCALES",
    "Locale",
    "describe",
    "enum_key",
    "keys",
    "label",
    "label_of",
    "parse_locale",
    "text",
]

Locale: TypeAlias = Literal["en", "zh_CN"]
"""A locale crmcore has labels for: English or simplified Chinese."""

LOCALES: Final[tuple[Locale, ...]] = ("en", "zh_CN")
"""Every supported locale, English first."""

DEFAULT_LOCALE: Final[Locale] = "en"
"""The locale used when none is given."""

_ALIASES: Final[Mapping[str, Locale]] = MappingProxyType(
    {
        "en": "en",
        "en_us": "en",
        "en_gb": "en",
        "c": "en",
        "posix": "en",
        "zh": "zh_CN",
        "zh_cn": "zh_CN",
        "zh_hans": "zh_CN",
        "zh_hans_cn": "zh_CN",
    }
)

_INDEX: Final = {"en": 0, "zh_CN": 1}


def parse_locale(value: object) -> Locale:
    """Return the locale ``value`` names: ``"zh_CN"``, ``"zh-CN"``, ``"zh"``, ``"en_US.UTF-8"`` ...

    Raises:
        InvalidValueError: If ``value`` is not a text naming a supported locale.

    >>> parse_locale("zh-CN"), parse_locale("en_US.UTF-8"), parse_locale("zh_Hans")
    ('zh_CN', 'en', 'zh_CN')
    >>> parse_locale("fr")
    Traceback (most recent call last):
    ...
    crmcore.errors.InvalidValueError: invalid locale 'fr': supported locales are en, zh_CN
    """
    if isinstance(value, str):
        name = value.partition(".")[0].partition("@")[0].strip().replace("-", "_").lower()
        found = _ALIASES.get(name)
        if found is not None:
            return found
    raise InvalidValueError("locale", value, f"supported locales are {', '.join(LOCALES)}")


def keys() -> frozenset[str]:
    """Return every key of the catalogue.

    >>> "field.lifecycle_stage" in keys()
    True
    """
    return frozenset(ENTRIES)


def label(key: str, locale: Locale | str = DEFAULT_LOCALE) -> str:
    """Return the text of ``key`` in ``locale``.

    Args:
        key: A catalogue key (``"enum.Tier.vip"``, ``"field.owner"``).
        locale: ``"en"`` (default) or ``"zh_CN"`` (``"zh-CN"`` and ``"zh"`` also name it).

    Raises:
        InvalidValueError: If the key is not in the catalogue or the locale is unsupported.

    >>> label("field.owner", "zh_CN")
    '负责人'
    >>> label("field.shoe_size")
    Traceback (most recent call last):
    ...
    crmcore.errors.InvalidValueError: invalid label key 'field.shoe_size': not in the catalogue
    """
    index = _INDEX[parse_locale(locale)]
    texts = ENTRIES.get(key) if isinstance(key, str) else None
    if texts is None:
        raise InvalidValueError("label key", key, "not in the catalogue")
    return texts[index]


def text(key: str, default: str, locale: Locale | str = DEFAULT_LOCALE) -> str:
    """Return the text of ``key`` in ``locale``, or ``default`` when the catalogue lacks the key.

    For labels of things a host defines (its own pipeline's stages, its own
    fields), which the catalogue cannot know.

    Raises:
        InvalidValueError: If the locale is unsupported.

    >>> text("workflow.lead.state.new", "new", "zh_CN")
    '新线索'
    >>> text("workflow.my-pipeline.state.triage", "triage", "zh_CN")
    'triage'
    """
    index = _INDEX[parse_locale(locale)]
    texts = ENTRIES.get(key)
    return default if texts is None else texts[index]


def enum_key(member: enum.Enum) -> str:
    """Return the catalogue key of an enum member: ``enum.<Class>.<value>``.

    >>> from crmcore.domain import LifecycleStage
    >>> enum_key(LifecycleStage.CHURNED)
    'enum.LifecycleStage.churned'
    """
    return f"enum.{type(member).__name__}.{member.value}"


def label_of(member: enum.Enum, locale: Locale | str = DEFAULT_LOCALE) -> str:
    """Return the label of an enum member in ``locale``.

    Raises:
        InvalidValueError: If the member has no label or the locale is unsupported.

    >>> from crmcore.domain import Tier
    >>> label_of(Tier.VIP, "zh_CN")
    'VIP客户'
    """
    return label(enum_key(member), locale)


def _field(name: str, locale: Locale) -> str:
    return text(f"field.{name}", name, locale)


def _reason(reason: str, locale: Locale) -> str:
    return text(f"reason.{reason}", reason, locale)


def _subject(subject: str) -> str:
    """What a payload error is about, in Chinese: ``Customer`` or ``segment rule <file>``."""
    found = ENTRIES.get(f"type.{subject}")
    if found is not None:
        return found[1]
    prefixes = sorted(
        (texts for key, texts in ENTRIES.items() if key.startswith("type.")),
        key=lambda texts: -len(texts[0]),
    )
    for english, chinese in prefixes:
        if subject.startswith(f"{english} "):
            return f"{chinese}{subject[len(english) :]}"
    return subject


def describe(error: CrmError, locale: Locale | str = DEFAULT_LOCALE) -> str:
    """Return the message of a crmcore error in ``locale``, built from its fields.

    In English this is ``str(error)``. In Chinese the field names, the kind of
    error and the reasons the catalogue knows are translated; values, ids and
    reasons it does not know are quoted as they are.

    Args:
        error: Any :class:`~crmcore.errors.CrmError`.
        locale: ``"en"`` or ``"zh_CN"``.

    Raises:
        InvalidValueError: If the locale is unsupported.

    >>> err = InvalidValueError("birth_date", "2026-02-30", "no such date")
    >>> describe(err, "zh_CN")
    "无效的出生日期 '2026-02-30'：日期不存在"
    >>> describe(err)
    "invalid birth_date '2026-02-30': no such date"
    """
    chosen = parse_locale(locale)
    if chosen == "en":
        return str(error)
    return _describe_zh(error)


def _describe_zh(error: CrmError) -> str:
    zh: Locale = "zh_CN"
    if isinstance(error, PayloadError):
        subject = _subject(error.subject)
        lines = "\n".join(
            f"  {_reason(p.message, zh)} @ {p.path}" for p in error.problems[: error.MAX_LISTED]
        )
        more = len(error.problems) - error.MAX_LISTED
        if more > 0:
            lines += f"\n  … 另有 {more:,} 个"
        return f"无效的{subject}（{len(error.problems)} 个问题）：\n{lines}"
    if isinstance(error, InvalidValueError):
        return f"无效的{_field(error.field, zh)} {shown(error.value)}：{_reason(error.reason, zh)}"
    if isinstance(error, NotFoundError):
        return f"未找到{text(f'field.{error.kind}', error.kind, zh)} {error.id!r}"
    if isinstance(error, DuplicateError):
        return f"{error.kind} {error.id!r} 与已有记录重复：{list(error.duplicates)!r}"
    if isinstance(error, StaleVersionError):
        stored = "无已存储记录" if error.actual is None else f"已存储版本为 {error.actual}"
        return f"{error.kind} {error.id!r} 版本已过期：保存时版本为 {error.expected}，{stored}"
    if isinstance(error, TransitionNotAllowedError):
        flow = error.workflow
        move = text(f"workflow.{flow}.transition.{error.transition}", error.transition, zh)
        state = text(f"workflow.{flow}.state.{error.state}", error.state, zh)
        allowed = "、".join(
            text(f"workflow.{flow}.transition.{name}", name, zh) for name in error.allowed
        )
        why = f"（{_reason(error.reason, zh)}）" if error.reason else ""
        return f"{flow}：处于「{state}」时不能「{move}」{why}；允许：{allowed or '无'}"
    if isinstance(error, WorkflowDefinitionError):
        return f"无效的流程定义 {error.workflow!r}：" + "；".join(error.problems)
    if isinstance(error, PermissionDeniedError):
        action = text(f"enum.Action.{error.action}", error.action, zh)
        why = f"：{_reason(error.reason, zh)}" if error.reason else ""
        return f"{error.actor!r} 无权{action} {error.target!r}{why}"
    if isinstance(error, StorageError):
        where = f"（字段 {_field(error.field, zh)}）" if error.field else ""
        return f"{error.operation} 失败{where}：{_reason(error.reason, zh)}"
    if isinstance(error, MissingExtraError):
        return f"{error.module} 需要可选依赖 {error.extra!r}：pip install 'crmcore[{error.extra}]'"
    if isinstance(error, ModelFitError):
        return f"{error.model} 拟合失败：{_reason(error.reason, zh)}"
    kind = ENTRIES.get(f"error.{type(error).__name__}")
    return f"{kind[1]}：{error}" if kind is not None else str(error)
