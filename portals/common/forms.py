"""What the forms of several portals share: the country, tax and Italian e-invoice delivery
fields a client's details carry, the language choice and the amount field. The forms
themselves live with their portal (storefront, client area, console)."""

from __future__ import annotations

from babel import Locale
from django import forms
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext_lazy as _

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
