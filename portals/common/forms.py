"""What the forms of several portals share: the country, postal address, tax and Italian
e-invoice delivery fields a client's details carry, the language choice, the amount field
and the rows of a price table (a cycle's price and setup fee, an option choice's). The forms
themselves live with their portal (storefront, client area, console)."""

from __future__ import annotations

from babel import Locale
from django import forms
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from billing.cycles import CYCLES
from billing.models import BillingCycle
from billing.services.clients import SDI_CODE_RE
from portals.common.fields import amount_clean

LANGUAGE_CHOICES = [(code, name) for code, name in settings.LANGUAGES]


def country_choices() -> list[tuple[str, str]]:
    """Every country by its name in the active language, sorted by that name."""
    locale = Locale.parse(translation.to_locale(translation.get_language() or "en"))
    names = [
        (code, name)
        for code, name in locale.territories.items()
        if len(code) == 2 and code.isalpha() and code not in ("ZZ", "EU", "EZ", "UN", "QO")
    ]
    return [("", "—"), *sorted(names, key=lambda item: item[1])]


def country_clean(value: str) -> str:
    value = (value or "").strip().upper()
    if value and (len(value) != 2 or not value.isalpha()):
        raise forms.ValidationError(_("Use the two-letter country code, for example IT or DE."))
    return value


# Countries whose addresses need a state or province, and those without postcodes.
REGION_REQUIRED = frozenset({"US", "CA", "AU", "BR", "MX", "IN"})
NO_POSTCODE = frozenset({"AE", "AG", "BS", "BZ", "HK", "IE", "JM", "QA"})


class AddressCleaning:
    """The rules of a postal address, for every form that takes one (the checkout's
    billing address, the console's client): a state or province where the country's
    addresses need one, a postal code except where the country has none. A form whose
    address may be left out (``address_optional``) applies them once a street is given,
    and then asks for the city and country too."""

    address_optional = False

    def clean(self):
        data = super().clean()
        if self.address_optional and not (data.get("address_line1") or "").strip():
            return data
        if self.address_optional:
            for name, message in (
                ("city", _("Please give the city.")),
                ("country", _("Please choose the country.")),
            ):
                if name in data and not (data.get(name) or "").strip():
                    self.add_error(name, message)
        country = data.get("country", "")
        if country in REGION_REQUIRED and not (data.get("region") or "").strip():
            self.add_error("region", _("This country's addresses need a state or province."))
        if country and country not in NO_POSTCODE and not (data.get("postal_code") or "").strip():
            self.add_error("postal_code", _("Please give the postal code."))
        return data


def tax_id_field() -> forms.CharField:
    return forms.CharField(
        label=_("Tax code"),
        max_length=32,
        required=False,
        help_text=_(
            "The personal or company tax code, where the country has one (Italy: codice fiscale)."
        ),
    )


def sdi_code_field() -> forms.CharField:
    return forms.CharField(
        label=_("SdI recipient code"),
        max_length=7,
        required=False,
        help_text=_("Italy: the seven-character code e-invoices are delivered to."),
    )


def pec_email_field() -> forms.EmailField:
    return forms.EmailField(
        label=_("PEC address"),
        required=False,
        help_text=_("Italy: the certified e-mail address for e-invoices, if there is no SdI code."),
    )


class ItalianDeliveryCleaning:
    """The SdI code as SdI writes it: upper case, seven letters and digits."""

    def clean_sdi_code(self) -> str:
        value = (self.cleaned_data.get("sdi_code") or "").strip().upper()
        if value and not SDI_CODE_RE.fullmatch(value):
            raise forms.ValidationError(
                _("An SdI recipient code has seven letters and digits, for example M5UXCR1.")
            )
        return value


class AmountField(forms.CharField):
    def clean(self, value):
        value = super().clean(value)
        return amount_clean(value) if value not in (None, "") else None


def cycle_choices() -> list[tuple[str, str]]:
    # A blank first choice: a row left empty is skipped, not read as a monthly price.
    return [
        ("", "—"),
        *((cycle, label) for cycle, label in BillingCycle.choices if cycle in CYCLES),
    ]


class CyclePriceForm(forms.Form):
    """One row of a price table: a billing cycle, its price and setup fee. A row left
    blank is skipped; ``row_is_used`` says which rows count (a price list's row counts
    once its list is chosen)."""

    cycle = forms.ChoiceField(label=_("Cycle"), choices=cycle_choices, required=False)
    price = AmountField(label=_("Price"), required=False)
    setup_fee = AmountField(label=_("Setup fee"), required=False)
    DELETE = forms.BooleanField(label=_("Remove"), required=False)

    def row_is_used(self, data: dict) -> bool:
        return bool(data.get("cycle") or data.get("price") is not None)

    def clean(self):
        data = super().clean()
        if data.get("DELETE") or not self.row_is_used(data):
            return data
        if not data.get("cycle"):
            self.add_error("cycle", _("Choose a cycle."))
        if data.get("price") is None:
            self.add_error("price", _("Enter a price."))
        for name in ("price", "setup_fee"):
            if data.get(name) is not None and data[name] < 0:
                self.add_error(name, _("Prices cannot be negative."))
        return data

    def is_kept(self) -> bool:
        """A valid row that prices something (not blank, not removed)."""
        data = self.cleaned_data
        return self.row_is_used(data) and not data.get("DELETE")


class ChoicePriceForm(CyclePriceForm):
    """A price row of an option: which of its choices the price is for."""

    choice = forms.ChoiceField(label=_("Choice"), choices=[], required=False)

    def __init__(self, *args, choices: list[tuple[str, str]] = (), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["choice"].choices = [("", "—"), *choices]
        # The choice leads the row, whatever else a subclass adds.
        self.order_fields(["choice"])

    def clean(self):
        data = super().clean()
        if self.row_is_used(data) and not data.get("DELETE") and not data.get("choice"):
            self.add_error("choice", _("Choose the choice this price is for."))
        return data
