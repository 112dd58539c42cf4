"""Value objects: always valid, immutable, compared by value.

`EmailAddress`, `PhoneNumber`, `PersonName`, `PostalAddress`, `Money`,
`CountryCode` and `Tag`. Each normalises and checks its input in a typed
converter, so ``__init__``, ``attrs.evolve`` and deserialisation all pass
through the same rules; other input shapes get named constructors
(``parse``). ``str(x)`` is the canonical form.

May import: ``crmcore.errors``, ``crmcore.domain.normalize``; attrs,
phonenumbers (through normalize), email-validator (through normalize).
"""

from __future__ import annotations

import decimal
import re
import unicodedata
from decimal import Decimal
from typing import Final, Self

import attrs

from crmcore.domain.normalize import normalize_email, normalize_phone
from crmcore.errors import InvalidValueError

__all__ = [
    "CURRENCY_MINOR_UNITS",
    "MONEY_DECIMAL_PLACES",
    "MONEY_INTEGER_DIGITS",
    "CountryCode",
    "EmailAddress",
    "Money",
    "PersonName",
    "PhoneNumber",
    "PostalAddress",
    "Tag",
    "clean_text",
    "is_cjk",
]

_SPACES = re.compile(r"\s+")


def clean_text(value: str) -> str:
    """Normalise free text: NFKC (full-width → half-width), trimmed, single spaces.

    >>> clean_text("  ＡＢＣ　公司  ")
    'ABC 公司'
    """
    if not isinstance(value, str):
        raise InvalidValueError("text", value, "expected a string")
    if value.isascii() and value.isprintable() and "  " not in value:
        return value.strip()  # NFKC leaves printable ASCII alone; the common case, made cheap
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", value)).strip()


def _is_cjk_char(ch: str) -> bool:
    code = ord(ch)
    return (
        0x4E00 <= code <= 0x9FFF  # CJK Unified Ideographs
        or 0x3400 <= code <= 0x4DBF  # Extension A
        or 0x20000 <= code <= 0x2EBEF  # Extensions B-F
        or 0xF900 <= code <= 0xFAFF  # Compatibility Ideographs
        or code == 0x3007  # 〇
    )


def is_cjk(text: str) -> bool:
    """Return whether ``text`` is non-empty and written only in CJK ideographs (and ·).

    >>> is_cjk("张伟"), is_cjk("Zhang Wei"), is_cjk("")
    (True, False, False)
    """
    return bool(text) and all(_is_cjk_char(ch) or ch in "·•" for ch in text)


# --------------------------------------------------------------------------- country


# ISO 3166-1 alpha-2 codes: every region phonenumbers knows, plus the few
# territories without a telephone numbering plan of their own.
def _iso_3166_alpha2() -> frozenset[str]:
    import phonenumbers  # noqa: PLC0415 - deferred: only needed to build the table once.

    return frozenset(phonenumbers.SUPPORTED_REGIONS) | {
        "AQ", "BV", "GS", "HM", "PN", "TF", "UM",
    }  # fmt: skip


_COUNTRIES: Final = _iso_3166_alpha2()


def _require_country(value: str) -> str:
    if not isinstance(value, str):
        raise InvalidValueError("country", value, "expected an ISO 3166-1 alpha-2 code")
    code = value.strip().upper()
    if code not in _COUNTRIES:
        raise InvalidValueError("country", value, "not an ISO 3166-1 alpha-2 code")
    return code


@attrs.frozen
class CountryCode:
    """An ISO 3166-1 alpha-2 country code (``CN``, ``US``), upper-cased.

    >>> CountryCode("cn")
    CountryCode(code='CN')
    >>> str(CountryCode("de"))
    'DE'
    """

    code: str = attrs.field(converter=_require_country)

    def __str__(self) -> str:
        return self.code


# --------------------------------------------------------------------------- tag

_TAG_MAX = 64


def _require_tag(value: str) -> str:
    if not isinstance(value, str):
        raise InvalidValueError("tag", value, "expected a string")
    name = clean_text(value).casefold()
    if not name:
        raise InvalidValueError("tag", value, "empty")
    if len(name) > _TAG_MAX:
        raise InvalidValueError("tag", value, f"longer than {_TAG_MAX} characters")
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise InvalidValueError("tag", value, "contains control characters")
    return name


@attrs.frozen(order=True)
class Tag:
    """A customer label (客户标签): NFKC, trimmed, case-folded, at most 64 characters.

    >>> Tag(" VIP ") == Tag("vip")
    True
    >>> str(Tag("高价值"))
    '高价值'
    """

    name: str = attrs.field(converter=_require_tag)

    def __str__(self) -> str:
        return self.name


# --------------------------------------------------------------------------- email


def _require_email(value: str) -> str:
    if not isinstance(value, str):
        raise InvalidValueError("email", value, "expected a string")
    return normalize_email(value)


@attrs.frozen(order=True)
class EmailAddress:
    """A valid email address, canonicalised (domain lower-cased, IDNA, NFC).

    >>> EmailAddress.parse(" Li.Na@Example.COM ")
    EmailAddress(address='Li.Na@example.com')
    >>> EmailAddress.parse("not an email")
    Traceback (most recent call last):
    ...
    crmcore.errors.InvalidValueError: invalid email 'not an email': ...
    """

    address: str = attrs.field(converter=_require_email)

    @classmethod
    def parse(cls, raw: str) -> Self:
        """Validate and canonicalise ``raw``.

        Raises:
            InvalidValueError: If ``raw`` is not a valid address.
        """
        return cls(raw)

    @property
    def local_part(self) -> str:
        """The part before the ``@``."""
        return self.address.rpartition("@")[0]

    @property
    def domain(self) -> str:
        """The (lower-case) domain."""
        return self.address.rpartition("@")[2]

    def __str__(self) -> str:
        return self.address


# --------------------------------------------------------------------------- phone

_E164 = re.compile(r"\+[1-9]\d{1,14}")


def _require_e164(value: str) -> str:
    if not isinstance(value, str) or not _E164.fullmatch(value):
        raise InvalidValueError("phone", value, "not in E.164 form (+ and up to 15 digits)")
    e164, _ = normalize_phone(value)
    return e164


def _require_extension(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not value.isascii() or not value.isdigit():
        raise InvalidValueError("phone extension", value, "digits only")
    return value


@attrs.frozen(order=True)
class PhoneNumber:
    """A valid phone number in E.164 form, with an optional extension.

    ``str(x)`` is the E.164 form (``+8613800138000``), with ``;ext=N`` when
    there is an extension; ``parse(str(x)) == x``.

    >>> PhoneNumber.parse("138 0013 8000", region="CN")
    PhoneNumber(e164='+8613800138000', extension=None)
    >>> str(PhoneNumber.parse("+1 (415) 555-2671 ext. 12"))
    '+14155552671;ext=12'
    >>> PhoneNumber.parse("12345", region="CN")
    Traceback (most recent call last):
    ...
    crmcore.errors.InvalidValueError: invalid phone '12345': ...
    """

    e164: str = attrs.field(converter=_require_e164)
    extension: str | None = attrs.field(default=None, converter=_require_extension)

    @classmethod
    def parse(cls, raw: str, *, region: str | None = None) -> Self:
        """Parse a phone number as people write it.

        Args:
            raw: The number, national (with ``region``) or international
                (``+`` or the region's international prefix such as ``00``).
            region: ISO 3166-1 alpha-2 region for national numbers, typically
                the customer's country; ``None`` requires an international form.

        Raises:
            InvalidValueError: If ``raw`` is not a valid number.
        """
        e164, extension = normalize_phone(raw, region)
        return cls(e164, extension)

    def __str__(self) -> str:
        return self.e164 if self.extension is None else f"{self.e164};ext={self.extension}"


# --------------------------------------------------------------------------- person name

# Two-character Chinese family names (复姓); a CJK full name starting with one
# of these has a two-character family name.
COMPOUND_SURNAMES: Final = frozenset(
    "欧阳 太史 端木 上官 司马 东方 独孤 南宫 万俟 闻人 夏侯 诸葛 尉迟 公羊 赫连 澹台 皇甫 "
    "宗政 濮阳 公冶 太叔 申屠 公孙 慕容 仲孙 钟离 长孙 宇文 司徒 鲜于 司空 闾丘 子车 亓官 "
    "司寇 巫马 公西 颛孙 壤驷 公良 漆雕 乐正 宰父 谷梁 拓跋 夹谷 轩辕 令狐 段干 百里 呼延 "
    "东郭 南门 羊舌 微生 公户 公玉 公仪 梁丘 公仲 公上 公门 公山 公坚 左丘 公伯 西门 公祖 "
    "第五 公乘 贯丘 公皙 南荣 东里 东宫 仲长 子书 子桑 即墨 达奚 褚师 吴铭".split()
)

_NAME_MAX = 200


def _name_part(value: str) -> str:
    if not isinstance(value, str):
        raise InvalidValueError("name", value, "expected a string")
    text = clean_text(value)
    if len(text) > _NAME_MAX:
        raise InvalidValueError("name", value, f"longer than {_NAME_MAX} characters")
    if not text.isprintable() and any(unicodedata.category(ch).startswith("C") for ch in text):
        raise InvalidValueError("name", value, "contains control characters")
    return text


def _require_some_name(instance: PersonName, _: attrs.Attribute[str], __: str) -> None:
    if not instance.given and not instance.family:
        raise InvalidValueError("name", "", "a given or a family name is required")


@attrs.frozen(order=True)
class PersonName:
    """A person's name: given and family parts, NFKC-normalised.

    CJK names are written family name first without a space (``张伟``);
    other names "given family". :meth:`parse` splits a full name.

    >>> PersonName.parse("欧阳娜娜")
    PersonName(family='欧阳', given='娜娜')
    >>> PersonName.parse("Ｌｉ Ｎａ").full
    'Li Na'
    >>> PersonName.parse("Smith, John")
    PersonName(family='Smith', given='John')
    """

    family: str = attrs.field(default="", converter=_name_part)
    given: str = attrs.field(default="", converter=_name_part, validator=_require_some_name)

    @classmethod
    def parse(cls, raw: str) -> Self:
        """Split a full name into family and given parts.

        ``"Family, Given"`` is honoured; a CJK name without spaces takes its
        first character (or a two-character compound surname such as 欧阳) as
        the family name; otherwise the last word is the family name.

        Raises:
            InvalidValueError: If ``raw`` holds no name.
        """
        text = _name_part(raw)
        if not text:
            raise InvalidValueError("name", raw, "empty")
        if "," in text:
            family, _, given = text.partition(",")
            return cls(family=family, given=given)
        compact = text.replace(" ", "")
        if is_cjk(compact):
            if "·" in compact or "•" in compact:  # transliterated foreign names: 约翰·史密斯
                given, _, family = compact.replace("•", "·").rpartition("·")
                return cls(family=family, given=given)
            if len(compact) >= 3 and compact[:2] in COMPOUND_SURNAMES:
                return cls(family=compact[:2], given=compact[2:])
            if len(compact) == 1:
                return cls(family=compact, given="")
            return cls(family=compact[0], given=compact[1:])
        given, _, family = text.rpartition(" ")
        if not given:
            return cls(family="", given=family)
        return cls(family=family, given=given)

    @property
    def is_cjk(self) -> bool:
        """Whether the name is written in CJK characters."""
        return is_cjk((self.family + self.given).replace(" ", ""))

    @property
    def full(self) -> str:
        """The name as it is displayed: ``张伟`` or ``Wei Zhang``."""
        if self.is_cjk:
            return self.family + self.given
        return " ".join(part for part in (self.given, self.family) if part)

    def __str__(self) -> str:
        return self.full


# --------------------------------------------------------------------------- postal address

_POSTCODE = {
    "CN": re.compile(r"\d{6}"),
    "US": re.compile(r"\d{5}(-\d{4})?"),
    "DE": re.compile(r"\d{5}"),
    "JP": re.compile(r"\d{3}-?\d{4}"),
    "GB": re.compile(r"[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}"),
}


def _optional_text(value: str) -> str:
    return _name_part(value)


def _require_postcode(instance: PostalAddress, _: attrs.Attribute[str], value: str) -> None:
    pattern = _POSTCODE.get(instance.country.code)
    if value and pattern is not None and not pattern.fullmatch(value):
        raise InvalidValueError(
            "postcode", value, f"not a valid postcode for {instance.country.code}"
        )


def _postcode(value: str) -> str:
    return _name_part(value).upper()


def _lines(value: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = (value,)
    return tuple(line for line in (_name_part(v) for v in value) if line)


def _country(value: CountryCode | str) -> CountryCode:
    return value if isinstance(value, CountryCode) else CountryCode(value)


@attrs.frozen(kw_only=True)
class PostalAddress:
    """A postal address, including China's province / city / district (省/市/区).

    >>> a = PostalAddress(country="cn", province="广东省", city="深圳市",
    ...                   district="南山区", street=("科技园路1号",), postcode="518057")
    >>> a.one_line()
    '广东省深圳市南山区科技园路1号 518057'
    """

    country: CountryCode = attrs.field(converter=_country)
    province: str = attrs.field(default="", converter=_optional_text)
    city: str = attrs.field(default="", converter=_optional_text)
    district: str = attrs.field(default="", converter=_optional_text)
    street: tuple[str, ...] = attrs.field(default=(), converter=_lines)
    postcode: str = attrs.field(default="", converter=_postcode, validator=_require_postcode)

    @property
    def is_empty(self) -> bool:
        """Whether nothing but the country is known."""
        return not (self.province or self.city or self.district or self.street or self.postcode)

    def one_line(self) -> str:
        """Render the address on one line, in the order its country writes it."""
        if self.country.code in {"CN", "JP", "TW", "HK", "MO", "KR"}:
            head = "".join((self.province, self.city, self.district, *self.street))
            return " ".join(part for part in (head, self.postcode) if part)
        parts = [*self.street, self.district, self.city, self.province, self.postcode]
        return ", ".join(part for part in (*parts, self.country.code) if part)


# --------------------------------------------------------------------------- money

CURRENCY_MINOR_UNITS: Final[dict[str, int]] = {
    **dict.fromkeys(
        "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN "
        "BWP BYN BZD CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD "
        "FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR "
        "KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN "
        "MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD "
        "SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD "
        "TZS UAH USD UYU UZS VES WST XCD YER ZAR ZMW ZWG".split(),
        2,
    ),
    **dict.fromkeys("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF".split(), 0),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
    **dict.fromkeys("CLF UYW".split(), 4),
}
"""ISO 4217 currency codes in use, with their minor units (decimal places)."""


def _require_currency(value: str) -> str:
    if not isinstance(value, str):
        raise InvalidValueError("currency", value, "expected an ISO 4217 code")
    code = value.strip().upper()
    if code not in CURRENCY_MINOR_UNITS:
        raise InvalidValueError("currency", value, "not an ISO 4217 currency code")
    return code


MONEY_INTEGER_DIGITS: Final = 14
"""Most digits an amount may have before the decimal point (storage is ``NUMERIC(20, 6)``)."""

MONEY_DECIMAL_PLACES: Final = 6
"""Most decimal places an amount may have (storage is ``NUMERIC(20, 6)``)."""

_MAX_AMOUNT_TEXT: Final = 64  # longest amount string read; far above any amount in range
_SIX_PLACES: Final = Decimal(1).scaleb(-MONEY_DECIMAL_PLACES)
_CENT: Final = Decimal("0.01")
_ONE: Final = Decimal(1)


def _exact_context() -> decimal.Context:
    """A context in which no in-range operation rounds, and any that would, raises."""
    context = decimal.Context(
        prec=40, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN, rounding=decimal.ROUND_HALF_EVEN
    )
    context.traps[decimal.Inexact] = True
    return context


_EXACT: Final = _exact_context()  # never mutated; only its flags change, which nothing reads
_ROUNDING: Final = _exact_context()  # the same, but rounding half-even is the point
_ROUNDING.traps[decimal.Inexact] = False


def _in_range(value: Decimal, given: object) -> Decimal:
    """Return a finite ``value`` as stored: at most 14 integer digits and 6 decimal places.

    Exponent forms that normalise into range are written out (``1E+3`` → ``1000``,
    ``1.0000000`` → ``1.000000``); the value itself never changes.
    """
    if not value.is_finite():
        raise InvalidValueError("amount", given, "must be finite")
    if value and value.adjusted() >= MONEY_INTEGER_DIGITS:
        raise InvalidValueError(
            "amount", given, f"more than {MONEY_INTEGER_DIGITS} digits before the point"
        )
    if value.same_quantum(_CENT) or value.same_quantum(_ONE):
        return value  # the usual shapes, found without building as_tuple()
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # noqa: S101 - finite, checked above
    if exponent > 0:
        return value.quantize(_ONE, context=_EXACT)
    if exponent < -MONEY_DECIMAL_PLACES:
        try:
            return value.quantize(_SIX_PLACES, context=_EXACT)
        except decimal.Inexact:
            raise InvalidValueError(
                "amount", given, f"more than {MONEY_DECIMAL_PLACES} decimal places"
            ) from None
    return value


def _require_amount(value: Decimal | int | str) -> Decimal:
    if isinstance(value, bool | float):
        raise InvalidValueError("amount", value, "use Decimal, int or str, never float")
    if isinstance(value, int):
        if value.bit_length() > 64:  # well past 10**14; cheap, before Decimal()
            raise InvalidValueError(  # a huge int may not even have a repr: describe it
                "amount",
                f"an integer of {value.bit_length()} bits",
                f"more than {MONEY_INTEGER_DIGITS} digits before the point",
            )
        return _in_range(Decimal(value), value)
    if isinstance(value, str):
        if len(value) > _MAX_AMOUNT_TEXT:
            raise InvalidValueError(
                "amount", f"{value[:20]}...", f"longer than {_MAX_AMOUNT_TEXT} characters"
            )
        try:
            parsed = Decimal(value.strip().replace(",", ""))
        except decimal.InvalidOperation as exc:
            raise InvalidValueError("amount", value, "not a decimal number") from exc
        return _in_range(parsed, value)
    if not isinstance(value, Decimal):
        raise InvalidValueError("amount", value, "expected a Decimal")
    return _in_range(value, value)


class CurrencyMismatchError(InvalidValueError):
    """Arithmetic or ordering was attempted across two currencies."""

    def __init__(self, left: str, right: str) -> None:
        super().__init__("currency", right, f"cannot combine {left} with {right}; convert first")


@attrs.frozen(kw_only=False, eq=True, order=False)
class Money:
    """An amount of one currency: ``Decimal`` + ISO 4217 code, never float.

    Every amount fits the storage column ``NUMERIC(20, 6)``: at most 14 digits before the
    point and 6 after (magnitude below 10**14); anything else is rejected when built.
    ``+``, ``-`` and ``*`` are exact: a result that would need rounding or leave the range
    raises :class:`~crmcore.errors.InvalidValueError` instead of losing digits.
    Arithmetic and ordering across currencies raise; equality never does.

    Raises:
        InvalidValueError: If the amount is a float, not a finite decimal number, has more
            than 6 decimal places or more than 14 digits before the point, or the currency
            is not an ISO 4217 code.

    >>> Money("99.90", "cny") + Money(10, "CNY")
    Money(amount=Decimal('109.90'), currency='CNY')
    >>> Money(1, "USD") == Money(1, "CNY")
    False
    >>> Money(1, "USD") + Money(1, "CNY")
    Traceback (most recent call last):
    ...
    crmcore.domain.values.CurrencyMismatchError: invalid currency 'CNY': cannot combine USD ...
    >>> Money("1.5E+3", "EUR"), Money("0.50000000", "EUR").amount
    (Money(amount=Decimal('1500'), currency='EUR'), Decimal('0.500000'))
    >>> Money("0.0000001", "EUR")
    Traceback (most recent call last):
    ...
    crmcore.errors.InvalidValueError: invalid amount '0.0000001': more than 6 decimal places
    >>> Money("99999999999999.999999", "EUR") + Money("0.000001", "EUR")
    Traceback (most recent call last):
    ...
    crmcore.errors.InvalidValueError: invalid amount ...: more than 14 digits before the point
    """

    amount: Decimal = attrs.field(converter=_require_amount)
    currency: str = attrs.field(converter=_require_currency)

    @classmethod
    def zero(cls, currency: str) -> Self:
        """Return zero in ``currency``.

        Raises:
            InvalidValueError: If ``currency`` is not an ISO 4217 code.
        """
        return cls(Decimal(0), currency)

    def _same(self, other: Money) -> None:
        if self.currency != other.currency:
            raise CurrencyMismatchError(self.currency, other.currency)

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        # both in range: the exact sum has at most 21 digits, so prec 40 never rounds
        return Money(_EXACT.add(self.amount, other.amount), self.currency)

    def __sub__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return Money(_EXACT.subtract(self.amount, other.amount), self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def _product(self, factor: Decimal | int) -> Decimal:
        """Return ``amount × factor`` exactly, or raise when it cannot be an amount."""
        if isinstance(factor, int):
            factor = Decimal(factor)
        if not factor.is_finite():
            raise InvalidValueError("factor", factor, "must be finite")
        if not self.amount or not factor:
            return Decimal(0)
        if self.amount.adjusted() + factor.adjusted() >= MONEY_INTEGER_DIGITS:
            raise InvalidValueError(  # the product is at least 10**14: skip computing it
                "amount",
                f"{self.amount} × {factor}",
                f"more than {MONEY_INTEGER_DIGITS} digits before the point",
            )
        context = _EXACT.copy()
        # digits(a × b) <= digits(a) + digits(b): this precision always holds the exact product
        context.prec = len(self.amount.as_tuple().digits) + len(factor.as_tuple().digits)
        return context.multiply(self.amount, factor)

    def __mul__(self, factor: Decimal | int) -> Money:
        if isinstance(factor, bool) or not isinstance(factor, Decimal | int):
            return NotImplemented
        product = self._product(factor)
        try:
            return Money(product, self.currency)
        except InvalidValueError as exc:
            raise InvalidValueError(
                "amount", f"{self.amount} × {factor}", f"{exc.reason}; use times() to round"
            ) from None

    __rmul__ = __mul__

    def times(self, factor: Decimal | int) -> Money:
        """Multiply by ``factor`` exactly, then round half-even to the currency's minor unit.

        For weights and rates whose exact product has more decimal places than an amount
        may (``*`` raises then instead of rounding).

        Args:
            factor: A finite ``Decimal`` or ``int`` (never ``float``).

        Returns:
            The rounded product, in this currency.

        Raises:
            InvalidValueError: If ``factor`` is not a finite Decimal or int, or the product
                has more than 14 digits before the point.

        >>> Money("0.05", "CNY").times(Decimal("0.333"))
        Money(amount=Decimal('0.02'), currency='CNY')
        """
        if isinstance(factor, bool) or not isinstance(factor, Decimal | int):
            raise InvalidValueError("factor", factor, "expected a Decimal or int, never float")
        return Money._rounded(self._product(factor), self.currency)

    @staticmethod
    def _rounded(amount: Decimal, currency: str) -> Money:
        places = CURRENCY_MINOR_UNITS[currency]
        rounded = amount.quantize(Decimal(1).scaleb(-places), context=_ROUNDING)
        return Money(rounded, currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.amount >= other.amount

    def rounded(self) -> Money:
        """Round half-even to the currency's minor unit (``0.01`` CNY, ``1`` JPY).

        Raises:
            InvalidValueError: If rounding up carries the amount past 14 integer digits.

        >>> Money("10.125", "CNY").rounded(), Money("100.5", "JPY").rounded().amount
        (Money(amount=Decimal('10.12'), currency='CNY'), Decimal('100'))
        """
        return Money._rounded(self.amount, self.currency)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"
