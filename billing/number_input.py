"""What a person or an integration may type as a number: ASCII digits only.

Python's ``Decimal`` and ``int`` read any Unicode decimal digit, so ``"１２"`` (full-width)
or ``"١٢"`` (Arabic-Indic) became 12 without anybody having typed a 1 and a 2 the way the
screen and the invoice show them. A number here is an optional leading ``-``, ASCII digits
and, for decimals, one decimal separator: a point, or a comma where the form takes the
locale's decimal comma. A zero never has a sign: ``-0`` as a price is refused rather than
stored as a negative zero. The console's form fields (``portals.common.fields``) and the
API's serializer fields (``api.fields``) both read numbers through here.
"""

from __future__ import annotations

import re
from decimal import Decimal

from django.utils.translation import gettext as _

_DECIMAL = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", re.ASCII)
_INTEGER = re.compile(r"-?[0-9]+", re.ASCII)


class NumberInputError(ValueError):
    """The text is not a number written the accepted way; the message says why."""


def _unsigned_zero(text: str, value: Decimal | int) -> None:
    if text.startswith("-") and value == 0:
        raise NumberInputError(_("Zero has no sign: write 0."))


def decimal_parse(text: str, *, decimal_comma: bool = False) -> Decimal:
    """A decimal from what was typed, or ``NumberInputError``."""
    cleaned = text.strip()
    if decimal_comma and "," in cleaned and "." not in cleaned:
        cleaned = cleaned.replace(",", ".", 1)
    if not _DECIMAL.fullmatch(cleaned):
        example = "12.50 / 12,50" if decimal_comma else "12.50"
        raise NumberInputError(
            _("Enter a number with the digits 0-9, like %(example)s.") % {"example": example}
        )
    value = Decimal(cleaned)
    _unsigned_zero(cleaned, value)
    return value


def integer_parse(text: str) -> int:
    """A whole number from what was typed, or ``NumberInputError``."""
    cleaned = text.strip()
    if not _INTEGER.fullmatch(cleaned):
        raise NumberInputError(_("Enter a whole number with the digits 0-9."))
    value = int(cleaned)
    _unsigned_zero(cleaned, value)
    return value
