"""Forms of the console's payment pages: topping up the balance at the provider and the
automatic top-up rule."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from tenants.forms import AmountField


class TopUpForm(forms.Form):
    amount = AmountField(label=_("Amount"))
    save_card = forms.BooleanField(
        label=_("Save the card for automatic top-ups"), required=False, initial=False
    )

    def clean_amount(self) -> Decimal:
        amount = self.cleaned_data["amount"]
        if amount is None or amount <= 0:
            raise forms.ValidationError(_("Enter an amount above zero."))
        return amount


class AutoTopUpForm(forms.Form):
    enabled = forms.BooleanField(label=_("Top up automatically"), required=False)
    threshold = AmountField(
        label=_("When the balance falls below"),
        help_text=_("Checked after every order and renewal."),
    )
    amount = AmountField(label=_("Top up by"))

    def clean(self) -> dict:
        data = super().clean()
        for name in ("threshold", "amount"):
            value = data.get(name)
            if value is not None and value < 0:
                self.add_error(name, _("Enter an amount of zero or more."))
        return data
