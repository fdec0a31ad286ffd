"""Text cells of the CSV files people open in a spreadsheet."""

from __future__ import annotations

# A cell a spreadsheet would read as a formula is written as text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(value: str) -> str:
    """``value`` as a cell that no spreadsheet runs as a formula (CSV injection). For
    names and other free text only: a negative amount stays a number."""
    return "'" + value if value.startswith(_FORMULA_START) else value
