"""Tax decisions and exact line amounts (no database)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.money import Money, round_money
from billing.taxes import (
    REVERSE_CHARGE_NOTE,
    line_amounts,
    tax_decide,
)

RULES = {"IT": (Decimal(22), "IVA"), "DE": (Decimal(19), "MwSt"), "": (Decimal(0), "Tax")}


@pytest.mark.parametrize(
    ("buyer", "vat", "exempt", "rate", "reverse"),
    [
        ("IT", "", False, 22, False),
        ("IT", "IT123", False, 22, False),  # same country: domestic VAT
        ("DE", "", False, 19, False),  # EU consumer: the buyer country's rule
        ("DE", "DE123", False, 0, True),  # EU business elsewhere: reverse charge
        ("US", "", False, 0, False),  # no rule: the catch-all rule
        ("US", "US123", False, 0, False),  # outside the EU: never reverse charge
        ("IT", "", True, 0, False),
    ],
)
def test_tax_decide(buyer, vat, exempt, rate, reverse):
    decision = tax_decide(
        rules=RULES,
        seller_country="it",
        buyer_country=buyer,
        buyer_vat_number=vat,
        buyer_tax_exempt=exempt,
    )
    assert decision.rate == rate
    assert decision.reverse_charge is reverse
    assert (decision.note == REVERSE_CHARGE_NOTE) is reverse


def test_a_seller_outside_the_eu_never_reverse_charges():
    decision = tax_decide(
        rules=RULES, seller_country="CH", buyer_country="DE", buyer_vat_number="DE1"
    )
    assert decision.rate == 19 and not decision.reverse_charge


prices = st.decimals(min_value=Decimal("-99999.99"), max_value=Decimal("99999.99"), places=2)
rates = st.sampled_from([Decimal(0), Decimal(4), Decimal("5.5"), Decimal(19), Decimal(22)])


@given(price=prices, rate=rates, quantity=st.integers(min_value=1, max_value=50))
def test_inclusive_lines_add_up_to_exactly_the_price(price, rate, quantity):
    decision = tax_decide(rules={"IT": (rate, "VAT")}, seller_country="IT", buyer_country="IT")
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
    decision = tax_decide(rules={"IT": (rate, "VAT")}, seller_country="IT", buyer_country="IT")
    amounts = line_amounts(
        unit_price=Money(price, "EUR"), quantity=1, decision=decision, prices_include_tax=False
    )
    assert amounts.net.amount == price
    assert amounts.tax.amount == round_money(price * rate / 100, "EUR")
    assert amounts.total == amounts.net + amounts.tax


def test_currencies_without_decimals_round_to_whole_units():
    decision = tax_decide(
        rules={"JP": (Decimal(10), "JCT")}, seller_country="JP", buyer_country="JP"
    )
    amounts = line_amounts(
        unit_price=Money(Decimal(1005), "JPY"),
        quantity=1,
        decision=decision,
        prices_include_tax=False,
    )
    assert amounts.tax == Money(Decimal(101), "JPY")  # 100.5 rounds half up
