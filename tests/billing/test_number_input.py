"""Numbers typed by people and integrations: ASCII digits only, no signed zero."""

from decimal import Decimal

import pytest

from billing.number_input import NumberInputError, decimal_parse, integer_parse


@pytest.mark.parametrize(
    "text, expected",
    [("12", "12"), ("12.50", "12.50"), (" 0.5 ", "0.5"), (".5", "0.5"), ("-3.25", "-3.25")],
)
def test_ascii_decimals_are_read(text, expected):
    assert decimal_parse(text) == Decimal(expected)


@pytest.mark.parametrize(
    "text",
    [
        "１２",  # full-width digits
        "1２.50",
        "١٢",  # Arabic-Indic digits
        "१२",  # Devanagari digits
        "-0",
        "-0.00",
        "-.0",
        "+12",
        "1e3",
        "NaN",
        "Infinity",
        "12,50",  # no decimal comma unless the form takes one
        "1.000,50",
        "1 000",
        "",
        "-",
        ".",
    ],
)
def test_anything_else_is_refused(text):
    with pytest.raises(NumberInputError):
        decimal_parse(text)


def test_the_decimal_comma_where_the_form_takes_it():
    assert decimal_parse("25,50", decimal_comma=True) == Decimal("25.50")
    for text in ("１２,50", "1,000,50", "1.000,50", "-0,00"):
        with pytest.raises(NumberInputError):
            decimal_parse(text, decimal_comma=True)


def test_whole_numbers():
    assert integer_parse("14") == 14
    assert integer_parse("-3") == -3
    for text in ("１４", "٣", "-0", "1.0", "+1", "14 days", ""):
        with pytest.raises(NumberInputError):
            integer_parse(text)
