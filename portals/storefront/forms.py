"""Forms of the storefront: the domain search and the sign-up at checkout."""

from __future__ import annotations

from django import forms
from django.contrib.auth import password_validation
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from portals.common.forms import country_clean


class SignupForm(forms.Form):
    name = forms.CharField(label=_("Full name"), max_length=200)
    company_name = forms.CharField(label=_("Company (optional)"), max_length=200, required=False)
    email = forms.EmailField(label=_("E-mail address"))
    password = forms.CharField(
        label=_("Password"), widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    country = forms.CharField(
        label=_("Country"), max_length=2, help_text=_("Two letters, for example IT.")
    )
    vat_number = forms.CharField(label=_("VAT number (optional)"), max_length=32, required=False)
    phone = forms.CharField(label=_("Phone (optional)"), max_length=40, required=False)

    def __init__(self, *args, terms_required: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if terms_required:
            self.fields["accept_terms"] = forms.BooleanField(
                label=_("I accept the terms of service"),
                error_messages={"required": _("Please accept the terms of service.")},
            )

    def clean_country(self) -> str:
        return country_clean(self.cleaned_data["country"])

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email=email).exists():
            raise forms.ValidationError(
                _("An account with this e-mail address already exists; log in instead.")
            )
        return email

    def clean(self):
        data = super().clean()
        password = data.get("password")
        if password:
            candidate = User(email=data.get("email", ""), full_name=data.get("name", ""))
            try:
                password_validation.validate_password(password, candidate)
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return data


class DomainSearchForm(forms.Form):
    q = forms.CharField(
        label=_("Domain name"),
        max_length=253,
        widget=forms.TextInput(attrs={"placeholder": _("yourname.com"), "autocomplete": "off"}),
    )
