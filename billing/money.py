"""The one money type of Tessera.

An amount is a ``Decimal`` with an explicit ISO 4217 currency. There is one rounding rule
for the whole code base, ``round_money``: half-up to the currency's minor unit as Babel
knows it (2 for EUR, 0 for JPY, 3 for KWD). Floats are refused outright. Conversion to
integer minor units happens only at the payment gateway boundary
(``billing.payments.gateways.stripe``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache
from typing import Any

from babel.numbers import (
    format_currency,
    get_currency_name,
    get_currency_precision,
    list_currencies,
)

# Amounts larger than this are a typing mistake, not a hosting bill.
MAX_AMOUNT = Decimal("1000000000")
MONEY_MAX_DIGITS = 14
MONEY_DECIMAL_PLACES = 4


class CurrencyMismatch(ValueError):
    pass


@cache
def _known_currencies() -> frozenset[str]:
    return frozenset(list_currencies())


@cache
def currency_exponent(currency: str) -> Decimal:
    return Decimal(1).scaleb(-get_currency_precision(currency))


def currency_validate(currency: str) -> str:
    if not isinstance(currency, str) or currency.upper() not in _known_currencies():
        raise ValueError(f"“{currency}” is not an ISO 4217 currency code.")
    return currency.upper()


# Offered first in every list of currencies; the rest follow alphabetically.
COMMON_CURRENCIES = ("EUR", "USD", "GBP", "CHF", "RUB", "PLN", "CZK", "SEK")


def currency_choices(*, locale: str) -> list[tuple[str, str]]:
    """Every ISO 4217 currency Babel knows, as (code, "code — name in ``locale``")."""
    rest = sorted(code for code in _known_currencies() if code not in COMMON_CURRENCIES)
    return [
        (code, f"{code} — {get_currency_name(code, locale=locale)}")
        for code in (*COMMON_CURRENCIES, *rest)
    ]


def to_decimal(value: Any) -> Decimal:
    if isinstance(value, float):
        raise TypeError("Money amounts must be Decimal, int or str, never float.")
    if isinstance(value, Decimal):
        result = value
    else:
        try:
            result = Decimal(str(value).strip())
        except (InvalidOperation, ValueError) as exc:
            raise ValueError(f"“{value}” is not an amount.") from exc
    if not result.is_finite():
        raise ValueError(f"“{value}” is not an amount.")
    return result


def round_money(amount: Decimal, currency: str) -> Decimal:
    """The rounding rule: half-up to the currency's minor unit."""
    return amount.quantize(currency_exponent(currency), rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "currency", currency_validate(self.currency))
        object.__setattr__(self, "amount", to_decimal(self.amount))

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    @classmethod
    def of(cls, amount: Any, currency: str) -> Money:
        """An amount already rounded to the currency, as every stored amount is."""
        return cls(round_money(to_decimal(amount), currency_validate(currency)), currency)

    def rounded(self) -> Money:
        return Money(round_money(self.amount, self.currency), self.currency)

    def _same(self, other: Any) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"Cannot combine Money with {type(other).__name__}.")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"Cannot combine {self.currency} with {other.currency}.")
        return other

    def __add__(self, other: Money) -> Money:
        return Money(self.amount + self._same(other).amount, self.currency)

    def __radd__(self, other: Any) -> Money:
        # sum() starts from 0
        if other == 0:
            return self
        return self.__add__(other)

    def __sub__(self, other: Money) -> Money:
        return Money(self.amount - self._same(other).amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __abs__(self) -> Money:
        return Money(abs(self.amount), self.currency)

    def __mul__(self, factor: Decimal | int) -> Money:
        if isinstance(factor, float | Money):
            raise TypeError("Money can be multiplied by a Decimal or an int only.")
        return Money(self.amount * Decimal(factor), self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        return self.amount < self._same(other).amount

    def __le__(self, other: Money) -> bool:
        return self.amount <= self._same(other).amount

    def __gt__(self, other: Money) -> bool:
        return self.amount > self._same(other).amount

    def __ge__(self, other: Money) -> bool:
        return self.amount >= self._same(other).amount

    def __bool__(self) -> bool:
        return self.amount != 0

    def is_negative(self) -> bool:
        return self.amount < 0

    def allocate(self, weights: list[Decimal]) -> list[Money]:
        """Splits the amount by weights so that the parts add up exactly to the whole
        (the rounding remainder goes to the largest parts first)."""
        total_weight = sum(weights, Decimal(0))
        if total_weight <= 0:
            raise ValueError("Weights must add up to more than zero.")
        whole = round_money(self.amount, self.currency)
        unit = currency_exponent(self.currency)
        raw = [whole * w / total_weight for w in weights]
        parts = [r.quantize(unit, rounding="ROUND_DOWN") for r in raw]
        remainder = whole - sum(parts, Decimal(0))
        order = sorted(range(len(weights)), key=lambda i: raw[i] - parts[i], reverse=True)
        step = unit if remainder > 0 else -unit
        index = 0
        while remainder != 0:
            parts[order[index % len(order)]] += step
            remainder -= step
            index += 1
        return [Money(p, self.currency) for p in parts]

    def format(self, locale: str = "en") -> str:
        return format_currency(self.amount, self.currency, locale=locale)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


def amount_validate(value: Any, currency: str, *, allow_negative: bool = False) -> Money:
    """Checks an amount that came from a person or an API: a number, not absurd, no more
    decimals than the currency has."""
    amount = to_decimal(value)
    if not allow_negative and amount < 0:
        raise ValueError("The amount cannot be negative.")
    if abs(amount) >= MAX_AMOUNT:
        raise ValueError(f"The amount {amount} is too large.")
    if amount != round_money(amount, currency):
        raise ValueError(
            f"{currency} amounts have at most {get_currency_precision(currency)} decimals."
        )
    return Money(amount, currency)


class MoneyField:
    """Combines a Decimal column and a currency column of a model into one Money value.

    ``total = MoneyField("total_amount", "currency")`` reads and writes both columns."""

    def __init__(self, amount_field: str, currency_field: str = "currency") -> None:
        self.amount_field = amount_field
        self.currency_field = currency_field

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        amount = getattr(instance, self.amount_field)
        if amount is None:
            return None
        return Money(amount, getattr(instance, self.currency_field))

    def __set__(self, instance: Any, value: Money) -> None:
        current = getattr(instance, self.currency_field, None)
        if current and current != value.currency:
            raise CurrencyMismatch(f"{self.name} is in {current}; cannot store {value.currency}.")
        setattr(instance, self.currency_field, value.currency)
        setattr(instance, self.amount_field, round_money(value.amount, value.currency))


def money_json(amount: Decimal, currency: str) -> dict[str, str]:
    """An amount as the log keeps it: a string at the currency's minor unit, so the same
    sum always reads the same."""
    return {"amount": str(round_money(Decimal(amount), currency)), "currency": currency}
