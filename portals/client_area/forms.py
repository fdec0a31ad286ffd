"""Forms of the client area: the client's own details, its contacts and the
cancellation of a service."""

from __future__ import annotations

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
