"""Form fields of the portals that read numbers the way ``billing.number_input`` says:
ASCII digits only, no signed zero."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from billing.number_input import NumberInputError, decimal_parse, integer_parse


class DecimalField(forms.DecimalField):
    """Django's DecimalField, reading only ASCII digits (and the locale's decimal
    separator when the field is localised)."""

    def to_python(self, value: Any) -> Decimal | None:
        if isinstance(value, str) and value.strip() not in self.empty_values:
            try:
                value = str(decimal_parse(value, decimal_comma=self.localize))
            except NumberInputError as exc:
                raise forms.ValidationError(str(exc), code="invalid") from exc
        return super().to_python(value)


class IntegerField(forms.IntegerField):
    """Django's IntegerField, reading only ASCII digits."""

    def to_python(self, value: Any) -> int | None:
        if isinstance(value, str) and value.strip() not in self.empty_values:
            try:
                value = str(integer_parse(value))
            except NumberInputError as exc:
                raise forms.ValidationError(str(exc), code="invalid") from exc
        return super().to_python(value)


def amount_clean(value: str) -> Decimal:
    """An amount typed in a console form: a point or a comma as the decimal separator."""
    try:
        return decimal_parse(value, decimal_comma=True)
    except NumberInputError as exc:
        raise forms.ValidationError(str(exc), code="invalid") from exc
