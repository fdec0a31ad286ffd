"""Forms of the storefront: the domain search and the sign-up at checkout."""

from __future__ import annotations

from django import forms
from django.contrib.auth import password_validation
from django.utils.translation import gettext_lazy as _

from accounts.models import TermsVersion, User
from billing.models import BillingCycle, Client
from core.locale import date_format
from portals.common.forms import AddressCleaning, country_choices, country_clean
from provisioning.registrars.rdap import DomainNameInvalid, domain_normalize


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


class TermsAcceptanceForm(forms.Form):
    """Every buyer, new or signed in, accepts the version of the terms shown beside the
    box. The page posts back the version it showed (``terms_version``, written by the
    template rather than kept as a field, so a page shown again carries the current
    one): terms published while the page was open are never accepted unseen."""

    accept_terms = forms.BooleanField(
        error_messages={"required": _("Please accept the terms of service.")},
    )

    def __init__(self, *args, version: TermsVersion, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.version = version
        self.fields["accept_terms"].label = _(
            "I accept the terms of service (version %(version)s of %(date)s)"
        ) % {"version": version.version, "date": date_format(version.published_on)}

    def clean(self):
        data = super().clean()
        if self.data.get("terms_version") != str(self.version.version):
            self.add_error(
                "accept_terms",
                _("The terms of service changed while you were ordering: read them again."),
            )
        return data


class DomainSearchForm(forms.Form):
    q = forms.CharField(
        label=_("Domain name"),
        max_length=253,
        widget=forms.TextInput(attrs={"placeholder": _("yourname.com"), "autocomplete": "off"}),
    )


class DomainTransferForm(forms.Form):
    domain = forms.CharField(label=_("Domain to transfer"), max_length=253)
    auth_code = forms.CharField(
        label=_("Auth code"),
        max_length=255,
        help_text=_("The transfer code your current registrar gives you (also EPP code)."),
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}, render_value=False),
    )


class DomainStepForm(forms.Form):
    """The domain a hosting plan is set up with: registered or transferred in with it,
    or (when the plan offers it) one the client already owns. The name comes back as
    A-labels (an internationalised name converted with IDNA)."""

    REGISTER, TRANSFER, OWN = "register", "transfer", "own"
    YEARS = (
        (BillingCycle.ANNUAL, _("1 year")),
        (BillingCycle.BIENNIAL, _("2 years")),
        (BillingCycle.TRIENNIAL, _("3 years")),
    )

    choice = forms.ChoiceField(label=_("Your domain"), widget=forms.RadioSelect)
    domain = forms.CharField(
        label=_("Domain name"),
        max_length=253,
        widget=forms.TextInput(attrs={"placeholder": _("yourname.com"), "autocomplete": "off"}),
    )
    cycle = forms.ChoiceField(
        label=_("Registration period"), choices=YEARS, initial=BillingCycle.ANNUAL, required=False
    )
    auth_code = forms.CharField(
        label=_("Auth code"),
        max_length=255,
        required=False,
        help_text=_("Only for a transfer: the code your current registrar gives you."),
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}, render_value=False),
    )

    def __init__(self, *args, offer_own: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        choices = [
            (self.REGISTER, _("Register a new domain")),
            (self.TRANSFER, _("Transfer a domain")),
        ]
        if offer_own:
            choices.append((self.OWN, _("Use a domain I already own")))
        self.fields["choice"].choices = choices
        self.fields["choice"].initial = self.REGISTER

    def clean_domain(self) -> str:
        try:
            _unicode, ascii_name = domain_normalize(self.cleaned_data["domain"])
        except DomainNameInvalid:
            raise forms.ValidationError(_("That is not a domain name.")) from None
        if "." not in ascii_name:
            raise forms.ValidationError(_("Type the whole name, with its extension: yourname.com."))
        return ascii_name

    def clean(self) -> dict:
        data = super().clean()
        if data.get("choice") == self.TRANSFER and not (data.get("auth_code") or "").strip():
            self.add_error("auth_code", _("A transfer needs the domain's auth code."))
        return data


class BillingAddressForm(AddressCleaning, forms.Form):
    """The buyer's billing address at checkout: the country decides the tax, the VAT
    number (once VIES confirms it) makes the sale a business one."""

    company_name = forms.CharField(label=_("Company (optional)"), max_length=200, required=False)
    vat_number = forms.CharField(
        label=_("VAT number (optional)"),
        max_length=32,
        required=False,
        help_text=_("With its country code, for example IE6388047V."),
    )
    address_line1 = forms.CharField(label=_("Address"), max_length=200)
    address_line2 = forms.CharField(label=_("Address (line 2)"), max_length=200, required=False)
    postal_code = forms.CharField(label=_("Postal code"), max_length=20, required=False)
    city = forms.CharField(label=_("City"), max_length=100)
    region = forms.CharField(label=_("State or province"), max_length=100, required=False)
    country = forms.ChoiceField(label=_("Country"), choices=country_choices)

    def clean_vat_number(self) -> str:
        value = (self.cleaned_data.get("vat_number") or "").strip()
        return "".join(ch for ch in value if ch.isalnum()).upper()

    @classmethod
    def initial_for(cls, client: Client | None) -> dict[str, str]:
        if client is None:
            return {}
        return {name: getattr(client, name) for name in cls.base_fields}


class CheckoutSignupForm(SignupForm):
    """The sign-up at checkout: who the client is; where it is billed comes from the
    billing address form beside it."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name in ("company_name", "country", "vat_number"):
            self.fields.pop(name)

    def clean_country(self) -> str:
        return ""
