"""Billing cycles and their calendar arithmetic, shared by the tenant's billing and the
provider's wholesale renewals."""

from __future__ import annotations

import calendar
from datetime import date

CYCLE_MONTHS: dict[str, int] = {
    "monthly": 1,
    "quarterly": 3,
    "semiannual": 6,
    "annual": 12,
    "biennial": 24,
    "triennial": 36,
}
ONE_TIME = "one_time"
CYCLES = [*CYCLE_MONTHS, ONE_TIME]


def cycle_validate(cycle: str) -> str:
    if cycle not in CYCLES:
        raise ValueError(f"“{cycle}” is not a billing cycle; use one of {', '.join(CYCLES)}.")
    return cycle


def add_months(start: date, months: int) -> date:
    """The same day ``months`` later, clamped to the month's last day (31 Jan → 28/29 Feb)."""
    month_index = start.month - 1 + months
    year = start.year + month_index // 12
    month = month_index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return date(year, month, day)


def cycle_end(start: date, cycle: str) -> date | None:
    """The first day after the period that starts on ``start``; None for one-time."""
    cycle_validate(cycle)
    if cycle == ONE_TIME:
        return None
    return add_months(start, CYCLE_MONTHS[cycle])
