"""Forms of the storefront, client area and console. They check input and say what is
wrong in the visitor's language; the writes are done by services."""

from __future__ import annotations

import ipaddress
from datetime import datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

from babel import Locale
from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from billing.models import BillingCycle, Client, Payment, Product
from billing.services.clients import SDI_CODE_RE

LANGUAGE_CHOICES = [(code, name) for code, name in settings.LANGUAGES]


def _country(value: str) -> str:
    value = (value or "").strip().upper()
    if value and (len(value) != 2 or not value.isalpha()):
        raise forms.ValidationError(_("Use the two-letter country code, for example IT or DE."))
    return value


def _tax_id_field() -> forms.CharField:
    return forms.CharField(
        label=_("Tax code"),
        max_length=32,
        required=False,
        help_text=_(
            "The personal or company tax code, where the country has one (Italy: codice fiscale)."
        ),
    )


def _sdi_code_field() -> forms.CharField:
    return forms.CharField(
        label=_("SdI recipient code"),
        max_length=7,
        required=False,
        help_text=_("Italy: the seven-character code e-invoices are delivered to."),
    )


def _pec_email_field() -> forms.EmailField:
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
        return _country(self.cleaned_data["country"])

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
    tax_id = _tax_id_field()
    sdi_code = _sdi_code_field()
    pec_email = _pec_email_field()
    language = forms.ChoiceField(label=_("Language"), choices=LANGUAGE_CHOICES)

    def clean_country(self) -> str:
        return _country(self.cleaned_data["country"])

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


class DomainSearchForm(forms.Form):
    q = forms.CharField(
        label=_("Domain name"),
        max_length=253,
        widget=forms.TextInput(attrs={"placeholder": _("yourname.com"), "autocomplete": "off"}),
    )


class CancelServiceForm(forms.Form):
    WHEN_CHOICES = [
        ("end", _("At the end of the paid period")),
        ("now", _("Now")),
    ]
    when = forms.ChoiceField(label=_("When"), choices=WHEN_CHOICES, widget=forms.RadioSelect)
    reason = forms.CharField(
        label=_("Reason (optional)"), required=False, max_length=500, widget=forms.Textarea
    )


# --- console ----------------------------------------------------------------------------


def _amount(value: str) -> Decimal:
    try:
        amount = Decimal(str(value).strip().replace(",", "."))
    except (InvalidOperation, ValueError) as exc:
        raise forms.ValidationError(_("Enter an amount like 12.50.")) from exc
    if not amount.is_finite():
        raise forms.ValidationError(_("Enter an amount like 12.50."))
    return amount


class AmountField(forms.CharField):
    def clean(self, value):
        value = super().clean(value)
        return _amount(value) if value not in (None, "") else None


class ClientForm(ItalianDeliveryCleaning, forms.Form):
    name = forms.CharField(label=_("Contact person"), max_length=200)
    company_name = forms.CharField(label=_("Company"), max_length=200, required=False)
    email = forms.EmailField(label=_("E-mail address"))
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    address_line1 = forms.CharField(label=_("Address"), max_length=200, required=False)
    postal_code = forms.CharField(label=_("Postal code"), max_length=20, required=False)
    city = forms.CharField(label=_("City"), max_length=100, required=False)
    country = forms.CharField(label=_("Country"), max_length=2, required=False)
    vat_number = forms.CharField(label=_("VAT number"), max_length=32, required=False)
    tax_id = _tax_id_field()
    sdi_code = _sdi_code_field()
    pec_email = _pec_email_field()
    language = forms.ChoiceField(label=_("Language"), choices=LANGUAGE_CHOICES)
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea)

    def clean_country(self) -> str:
        return _country(self.cleaned_data["country"])


class InvoiceNewForm(forms.Form):
    client = forms.ModelChoiceField(label=_("Client"), queryset=Client.objects.none())
    description = forms.CharField(label=_("Description"), max_length=500)
    quantity = forms.DecimalField(
        label=_("Quantity"), min_value=Decimal("0.01"), max_digits=10, decimal_places=2, initial=1
    )
    unit_price = AmountField(label=_("Unit price"))
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea)
    issue = forms.BooleanField(label=_("Issue now"), required=False, initial=True)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["client"].queryset = Client.objects.filter(status=Client.Status.ACTIVE)


class PaymentForm(forms.Form):
    METHOD_CHOICES = [
        (Payment.Method.BANK_TRANSFER, _("Bank transfer")),
        (Payment.Method.MANUAL, _("Other (cash, cheque...)")),
    ]
    amount = AmountField(label=_("Amount received"))
    method = forms.ChoiceField(label=_("Method"), choices=METHOD_CHOICES)
    reference = forms.CharField(
        label=_("Bank reference"),
        max_length=90,
        required=False,
        help_text=_("The bank's reference of the transfer: recording it twice books it once."),
    )
    note = forms.CharField(label=_("Note"), max_length=500, required=False)
    token = forms.CharField(widget=forms.HiddenInput)


class CreditNoteForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500)
    full = forms.BooleanField(label=_("Credit the whole invoice"), required=False, initial=True)
    token = forms.CharField(widget=forms.HiddenInput)


class BrandingForm(forms.Form):
    company_name = forms.CharField(label=_("Company name shown"), max_length=200, required=False)
    brand_color = forms.CharField(
        label=_("Brand colour"),
        max_length=7,
        widget=forms.TextInput(attrs={"type": "color"}),
    )
    logo = forms.FileField(label=_("Logo"), required=False)
    logo_remove = forms.BooleanField(label=_("Remove the logo"), required=False)
    favicon = forms.FileField(label=_("Favicon"), required=False)
    favicon_remove = forms.BooleanField(label=_("Remove the favicon"), required=False)
    legal_footer = forms.CharField(
        label=_("Legal footer"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Company details shown at the bottom of every page."),
    )
    homepage_title = forms.CharField(label=_("Homepage title"), max_length=200, required=False)
    homepage_text = forms.CharField(
        label=_("Homepage text"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    terms_text = forms.CharField(
        label=_("Terms of service"), required=False, widget=forms.Textarea(attrs={"rows": 8})
    )


class DomainAddForm(forms.Form):
    hostname = forms.CharField(
        label=_("Domain"),
        max_length=253,
        widget=forms.TextInput(attrs={"placeholder": "billing.example.com"}),
    )


class StaffInviteForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"))
    full_name = forms.CharField(label=_("Name"), max_length=200, required=False)
    role = forms.ChoiceField(label=_("Role"), choices=User.Role.choices)


class StaffRoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=User.Role.choices)


class StaffTwoFactorForm(forms.Form):
    required = forms.BooleanField(
        label=_("Require two-factor authentication for all staff"), required=False
    )


class SettingsForm(forms.Form):
    legal_name = forms.CharField(label=_("Legal name"), max_length=200)
    address_line1 = forms.CharField(label=_("Address"), max_length=200, required=False)
    postal_code = forms.CharField(label=_("Postal code"), max_length=20, required=False)
    city = forms.CharField(label=_("City"), max_length=100, required=False)
    country = forms.CharField(label=_("Country"), max_length=2, required=False)
    vat_number = forms.CharField(label=_("VAT number"), max_length=32, required=False)
    bank_name = forms.CharField(label=_("Bank"), max_length=200, required=False)
    iban = forms.CharField(label=_("IBAN"), max_length=34, required=False)
    bic = forms.CharField(label=_("BIC"), max_length=11, required=False)
    prices_include_tax = forms.BooleanField(label=_("Prices include tax"), required=False)
    invoice_number_format = forms.CharField(label=_("Invoice number format"), max_length=64)
    credit_note_number_format = forms.CharField(label=_("Credit note number format"), max_length=64)
    number_prefix = forms.CharField(label=_("Number prefix"), max_length=20, required=False)
    number_reset = forms.ChoiceField(
        label=_("Numbering restarts"),
        choices=[("yearly", _("Every year")), ("never", _("Never"))],
    )
    payment_terms_days = forms.IntegerField(label=_("Payment terms (days)"), min_value=0)
    renewal_lead_days = forms.IntegerField(
        label=_("Renewal invoices, days before due"), min_value=0, max_value=365
    )
    grace_days = forms.IntegerField(label=_("Suspend after (days overdue)"), min_value=0)
    termination_days = forms.IntegerField(label=_("Terminate after (days overdue)"), min_value=0)
    reminder_days = forms.CharField(
        label=_("Reminders (days after due)"),
        required=False,
        help_text=_("Comma-separated, for example 1, 7, 14."),
    )
    default_language = forms.ChoiceField(label=_("Default language"), choices=LANGUAGE_CHOICES)

    def clean_country(self) -> str:
        return _country(self.cleaned_data["country"])

    def clean_reminder_days(self) -> list[int]:
        raw = self.cleaned_data["reminder_days"]
        try:
            days = sorted({int(part) for part in raw.replace(";", ",").split(",") if part.strip()})
        except ValueError as exc:
            raise forms.ValidationError(
                _("Give whole numbers of days, separated by commas.")
            ) from exc
        if any(day < 0 or day > 365 for day in days):
            raise forms.ValidationError(_("Reminder days are between 0 and 365."))
        return days


class TaxRuleForm(forms.Form):
    country = forms.CharField(
        label=_("Country"), max_length=2, required=False, help_text=_("Empty: any other country.")
    )
    name = forms.CharField(label=_("Tax name"), max_length=50, initial="VAT", required=False)
    rate = forms.DecimalField(
        label=_("Rate (%)"), min_value=0, max_value=Decimal("99.9999"), decimal_places=4
    )

    def clean_country(self) -> str:
        return _country(self.cleaned_data["country"])


class MarkupForm(forms.Form):
    KIND_CHOICES = [("percent", _("Percentage")), ("fixed", _("Fixed amount"))]
    ROUNDING_CHOICES = [
        ("none", _("No rounding")),
        ("99", _("Up to .99")),
        ("whole", _("Up to whole units")),
    ]
    kind = forms.ChoiceField(label=_("Markup"), choices=KIND_CHOICES, initial="percent")
    value = AmountField(label=_("Markup value"), initial="30")
    rounding = forms.ChoiceField(label=_("Rounding"), choices=ROUNDING_CHOICES, initial="99")

    def clean_value(self) -> Decimal:
        value = self.cleaned_data["value"]
        if value is None or value < 0:
            raise forms.ValidationError(_("The markup cannot be negative."))
        if value > Decimal(1000):
            raise forms.ValidationError(_("The markup is too large."))
        return value


CYCLE_CHOICES = [(value, label) for value, label in BillingCycle.choices]


# --- API keys and webhooks -------------------------------------------------------------


def _scope_choices() -> list[tuple[str, str]]:
    from api.keys import SCOPES

    return [(scope, f"{scope} — {gettext(text)}") for scope, text in SCOPES.items()]


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_("What uses the key, for example “accounting sync”."),
    )
    scopes = forms.MultipleChoiceField(
        label=_("Scopes"),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("A write scope includes reading the same things."),
        error_messages={"required": _("Choose at least one scope.")},
    )
    expires_on = forms.DateField(
        label=_("Expires on (optional)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("The key works until the end of this day. Empty: it never expires."),
    )
    allowed_ips = forms.CharField(
        label=_("Allowed IP addresses (optional)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "203.0.113.7\n198.51.100.0/24"}),
        help_text=_("One address or network (CIDR) per line. Empty: the key works from anywhere."),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Built per form, so the descriptions follow the page's language.
        self.fields["scopes"].choices = _scope_choices()

    def clean_expires_on(self) -> datetime | None:
        day = self.cleaned_data["expires_on"]
        if day is None:
            return None
        if day < timezone.localdate():
            raise forms.ValidationError(_("The expiry date is in the past."))
        return timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))

    def clean_allowed_ips(self) -> list[str]:
        entries = self.cleaned_data["allowed_ips"].replace(",", "\n").split()
        wrong = []
        for entry in entries:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                wrong.append(entry)
        if wrong:
            raise forms.ValidationError(
                _(
                    "Not an IP address or network: %(entries)s. Write addresses like "
                    "203.0.113.7 or 2001:db8::1 and networks like 198.51.100.0/24."
                )
                % {"entries": ", ".join(wrong)}
            )
        return entries


def _webhook_event_choices() -> list[tuple[str, str]]:
    from api.webhook_events import EVENT_TYPES, PING

    # A ping goes to one endpoint when someone asks for it; nobody subscribes to it.
    return [(event, event) for event in sorted(EVENT_TYPES - {PING})]


def is_local_host(hostname: str) -> bool:
    host = (hostname or "").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def webhook_local_allowed(url: str) -> bool:
    """A developer's own machine may receive webhooks over plain http, in DEBUG only."""
    return settings.DEBUG and is_local_host(urlsplit(url).hostname or "")


class WebhookEndpointForm(forms.Form):
    url = forms.URLField(
        label=_("URL"),
        max_length=2000,
        assume_scheme="https",
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/webhooks/billing"}),
        help_text=_("An https:// address on the internet that answers a POST with 2xx."),
    )
    description = forms.CharField(label=_("Description (optional)"), max_length=200, required=False)
    events = forms.MultipleChoiceField(
        label=_("Events"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every event, including ones added later."),
    )
    is_active = forms.BooleanField(
        label=_("Active"), required=False, help_text=_("Paused endpoints receive nothing.")
    )

    def __init__(self, *args, editing: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["events"].choices = _webhook_event_choices()
        if not editing:
            # A new endpoint starts active; pausing is a change made later.
            del self.fields["is_active"]

    def clean_url(self) -> str:
        from api.webhooks import webhook_url_check
        from billing.errors import BillingError

        url = self.cleaned_data["url"].strip()
        parts = urlsplit(url)
        local = webhook_local_allowed(url)
        if parts.scheme != "https" and not local:
            raise forms.ValidationError(
                _("Use an https:// address: events carry your clients' data.")
            )
        if parts.username or parts.password:
            raise forms.ValidationError(
                _(
                    "Leave the user name and password out of the address: the signature "
                    "already proves where each event comes from."
                )
            )
        try:
            return webhook_url_check(url, private_allowed=local)
        except BillingError as exc:
            raise forms.ValidationError(
                _("The address must be reachable on the internet, not a private network.")
            ) from exc


# Countries whose addresses need a state or province, and those without postcodes.
REGION_REQUIRED = frozenset({"US", "CA", "AU", "BR", "MX", "IN"})
NO_POSTCODE = frozenset({"AE", "AG", "BS", "BZ", "HK", "IE", "JM", "QA"})


def country_choices() -> list[tuple[str, str]]:
    """Every country by its name in the active language, sorted by that name."""
    locale = Locale.parse(translation.to_locale(translation.get_language() or "en"))
    names = [
        (code, name)
        for code, name in locale.territories.items()
        if len(code) == 2 and code.isalpha() and code not in ("ZZ", "EU", "EZ", "UN", "QO")
    ]
    return [("", "—"), *sorted(names, key=lambda item: item[1])]


class BillingAddressForm(forms.Form):
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

    def clean(self):
        data = super().clean()
        country = data.get("country", "")
        if country in REGION_REQUIRED and not data.get("region", "").strip():
            self.add_error("region", _("This country's addresses need a state or province."))
        if country and country not in NO_POSTCODE and not data.get("postal_code", "").strip():
            self.add_error("postal_code", _("Please give the postal code."))
        return data

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


class TaxSettingsForm(forms.Form):
    """How the tenant is registered for VAT, and its choices where the law leaves one."""

    vat_registered = forms.BooleanField(label=_("Registered for VAT"), required=False)
    vat_small_business = forms.BooleanField(
        label=_("Small-enterprise VAT exemption (no VAT charged)"), required=False
    )
    oss_registered = forms.BooleanField(
        label=_("Registered for the One-Stop Shop (OSS)"), required=False
    )
    oss_under_threshold = forms.BooleanField(
        label=_("Stay under the EU threshold of 10,000 EUR (tax EU consumers at home)"),
        required=False,
    )
    vies_unavailable = forms.ChoiceField(
        label=_("When VIES does not answer"),
        choices=[
            ("consumer", _("Sell as to a consumer, with VAT")),
            ("wait", _("Make the order wait")),
        ],
    )
    domestic_reverse_charge = forms.MultipleChoiceField(
        label=_("Domestic reverse charge for businesses, on"),
        choices=Product.TaxCategory.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    fatturapa_regime = forms.ChoiceField(
        label=_("FatturaPA tax regime (sellers in Italy)"),
        choices=[("RF01", _("RF01 ordinario")), ("RF19", _("RF19 forfettario"))],
    )


class TaxReportForm(forms.Form):
    year = forms.IntegerField(label=_("Year"), min_value=2000, max_value=2100)
    quarter = forms.ChoiceField(
        label=_("Quarter"), choices=[(str(q), f"Q{q}") for q in range(1, 5)]
    )
