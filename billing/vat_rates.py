"""Standard VAT rates per country and the day each took effect.

Today's rates come from ``eu_vat_rates_data`` (the European Commission's TEDB for the
EU-27, kept up for the non-EU countries of Europe too). That package knows only the
rate in force now, so the changes of the last years are kept here, dated: an invoice
dated before a change is taxed at the rate of its own date. When a rate changes again,
the package's next release brings the new rate and one line is added below with the day
the old one stopped.

A tenant's own rules (``billing.models.TaxRule``) come on top of these; the engine asks
``rate_for`` with them.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import eu_vat_rates_data

# (country, first day of the current rate, the rate before it): the changes we know of
# since 2023. Older dates use the oldest rate listed.
_HISTORY: dict[str, list[tuple[date, Decimal]]] = {
    # Estonia: 20 % until 2023, 22 % in 2024 and the first half of 2025, then 24 %.
    "EE": [(date(2024, 1, 1), Decimal(20)), (date(2025, 7, 1), Decimal(22))],
    # Finland: 24 % until 31 August 2024.
    "FI": [(date(2024, 9, 1), Decimal(24))],
    # Slovakia: 20 % until 2024.
    "SK": [(date(2025, 1, 1), Decimal(20))],
    # Romania: 19 % until 31 July 2025.
    "RO": [(date(2025, 8, 1), Decimal(19))],
    # Luxembourg: 16 % in 2023 only (a temporary cut).
    "LU": [(date(2023, 1, 1), Decimal(17)), (date(2024, 1, 1), Decimal(16))],
    # Switzerland: 7.7 % until 2023.
    "CH": [(date(2024, 1, 1), Decimal("7.7"))],
}

EU_COUNTRIES = frozenset(
    code for code, row in eu_vat_rates_data.get_all_rates().items() if row["eu_member"]
)


def data_version() -> str:
    """The day the rates package last checked its sources."""
    return eu_vat_rates_data.data_version


def standard_rate(country: str, on_date: date) -> Decimal | None:
    """The standard rate of ``country`` on ``on_date``, in percent; None for a country
    the data does not cover."""
    row = eu_vat_rates_data.get_rate((country or "").upper())
    if row is None:
        return None
    rate = Decimal(str(row["standard"]))
    # Walk the changes newest first: before a change, the rate was the one listed.
    for changed_on, before in reversed(_HISTORY.get(country.upper(), [])):
        if on_date < changed_on:
            rate = before
        else:
            break
    return rate


def tax_name(country: str) -> str:
    """What the country calls its VAT (IVA, MwSt, TVA...), for the invoice line."""
    row = eu_vat_rates_data.get_rate((country or "").upper())
    return row["vat_abbr"] if row else "VAT"


def is_eu(country: str) -> bool:
    return (country or "").upper() in EU_COUNTRIES
