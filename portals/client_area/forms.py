"""Forms of the client area: the client's own details, its contacts and the
cancellation of a service."""

from __future__ import annotations

import ipaddress
import re

from django import forms
from django.utils.translation import gettext_lazy as _

from billing.models import Client
from portals.common.forms import (
    LANGUAGE_CHOICES,
    ItalianDeliveryCleaning,
    country_clean,
    pec_email_field,
    sdi_code_field,
    tax_id_field,
)


class ProfileForm(ItalianDeliveryCleaning, forms.Form):
    name = forms.CharField(label=_("Full name"), max_length=200)
    company_name = forms.CharField(label=_("Company"), max_length=200, required=False)
    email = forms.EmailField(label=_("Billing e-mail address"))
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    address_line1 = forms.CharField(label=_("Address"), max_length=200, required=False)
    address_line2 = forms.CharField(label=_("Address (line 2)"), max_length=200, required=False)
    postal_code = forms.CharField(label=_("Postal code"), max_length=20, required=False)
    city = forms.CharField(label=_("City"), max_length=100, required=False)
    region = forms.CharField(label=_("Region"), max_length=100, required=False)
    country = forms.CharField(label=_("Country"), max_length=2, required=False)
    vat_number = forms.CharField(label=_("VAT number"), max_length=32, required=False)
    tax_id = tax_id_field()
    sdi_code = sdi_code_field()
    pec_email = pec_email_field()
    language = forms.ChoiceField(label=_("Language"), choices=LANGUAGE_CHOICES)

    def clean_country(self) -> str:
        return country_clean(self.cleaned_data["country"])

    @classmethod
    def for_client(cls, client: Client, language: str) -> ProfileForm:
        initial = {name: getattr(client, name) for name in cls.base_fields if name != "language"}
        initial["language"] = client.language or language
        return cls(initial=initial)


class ContactForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    email = forms.EmailField(label=_("E-mail address"))
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    receives_invoices = forms.BooleanField(label=_("Receives invoices"), required=False)
    receives_technical = forms.BooleanField(label=_("Receives technical notices"), required=False)


class CancelServiceForm(forms.Form):
    WHEN_CHOICES = [
        ("end", _("At the end of the paid period")),
        ("now", _("Now")),
    ]
    when = forms.ChoiceField(label=_("When"), choices=WHEN_CHOICES, widget=forms.RadioSelect)
    reason = forms.CharField(
        label=_("Reason (optional)"), required=False, max_length=500, widget=forms.Textarea
    )


# --- a domain's settings at its registry ---------------------------------------------------


class NameserversForm(forms.Form):
    nameservers = forms.CharField(
        label=_("Nameservers"),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("One host name per line, 2 to 13."),
    )

    def clean_nameservers(self) -> list[str]:
        names = [line.strip() for line in self.cleaned_data["nameservers"].splitlines()]
        names = [name for name in names if name]
        if not 2 <= len(names) <= 13:
            raise forms.ValidationError(_("Give between 2 and 13 nameservers."))
        return names


class TransferRetryForm(forms.Form):
    auth_code = forms.CharField(
        label=_("New auth code"),
        max_length=255,
        help_text=_("The transfer code your current registrar gives you (also EPP code)."),
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}, render_value=False),
    )


class LockForm(forms.Form):
    locked = forms.TypedChoiceField(
        label=_("Transfer lock"),
        choices=[("1", _("On")), ("0", _("Off"))],
        coerce=lambda value: value == "1",
    )


class AutoRenewForm(forms.Form):
    renews = forms.TypedChoiceField(
        label=_("Auto-renew"),
        choices=[("1", _("On")), ("0", _("Off"))],
        coerce=lambda value: value == "1",
    )


class GlueHostForm(forms.Form):
    name = forms.CharField(label=_("Host name"), max_length=253)
    addresses = forms.CharField(
        label=_("IP addresses"),
        max_length=500,
        help_text=_("IPv4 or IPv6, separated by spaces or commas."),
    )

    def clean_addresses(self) -> list[str]:
        values = [v for v in re.split(r"[\s,]+", self.cleaned_data["addresses"]) if v]
        if not 1 <= len(values) <= 13:
            raise forms.ValidationError(_("Give between 1 and 13 addresses."))
        try:
            return [str(ipaddress.ip_address(value)) for value in values]
        except ValueError:
            raise forms.ValidationError(_("That is not an IP address.")) from None


class DnssecForm(forms.Form):
    ds_records = forms.CharField(
        label=_("DS records"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "One per line: key tag, algorithm, digest type and digest, separated by "
            "spaces. Empty turns DNSSEC off."
        ),
    )

    def clean_ds_records(self) -> list[dict]:
        records = []
        for line in self.cleaned_data["ds_records"].splitlines():
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 4 or not all(part.isdigit() for part in parts[:3]):
                raise forms.ValidationError(
                    _("Write each DS record as: key tag, algorithm, digest type, digest.")
                )
            key_tag, algorithm, digest_type, digest = parts
            if not re.fullmatch(r"[0-9A-Fa-f]{2,128}", digest):
                raise forms.ValidationError(_("A digest is written in hexadecimal."))
            records.append(
                {
                    "key_tag": int(key_tag),
                    "algorithm": int(algorithm),
                    "digest_type": int(digest_type),
                    "digest": digest.upper(),
                }
            )
        return records
