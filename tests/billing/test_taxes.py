"""Exact line amounts (no database); the decisions are in test_tax_engine.py."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from billing.money import Money, round_money
from billing.taxes import BuyerProfile, SellerProfile, line_amounts, tax_decide

ON = date(2026, 3, 1)


def _domestic(country: str, rate: Decimal):
    return tax_decide(
        seller=SellerProfile(country, rules={country: (rate, "VAT")}),
        buyer=BuyerProfile(country),
        on_date=ON,
    )


prices = st.decimals(min_value=Decimal("-99999.99"), max_value=Decimal("99999.99"), places=2)
rates = st.sampled_from([Decimal(0), Decimal(4), Decimal("5.5"), Decimal(19), Decimal(22)])


@given(price=prices, rate=rates, quantity=st.integers(min_value=1, max_value=50))
def test_inclusive_lines_add_up_to_exactly_the_price(price, rate, quantity):
    decision = _domestic("IT", rate)
    amounts = line_amounts(
        unit_price=Money(price, "EUR"),
        quantity=quantity,
        decision=decision,
        prices_include_tax=True,
    )
    assert amounts.total.amount == price * quantity
    assert amounts.net + amounts.tax == amounts.total
    for part in (amounts.net, amounts.tax):
        assert part.amount == round_money(part.amount, "EUR")


@given(price=prices, rate=rates)
def test_exclusive_lines_add_the_rounded_tax(price, rate):
    decision = _domestic("IT", rate)
    amounts = line_amounts(
        unit_price=Money(price, "EUR"), quantity=1, decision=decision, prices_include_tax=False
    )
    assert amounts.net.amount == price
    assert amounts.tax.amount == round_money(price * rate / 100, "EUR")
    assert amounts.total == amounts.net + amounts.tax


def test_currencies_without_decimals_round_to_whole_units():
    decision = _domestic("JP", Decimal(10))
    amounts = line_amounts(
        unit_price=Money(Decimal(1005), "JPY"),
        quantity=1,
        decision=decision,
        prices_include_tax=False,
    )
    assert amounts.tax == Money(Decimal(101), "JPY")  # 100.5 rounds half up
