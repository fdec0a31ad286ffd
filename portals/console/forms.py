"""Forms of the reseller console: clients, invoices, payments and credit notes, branding,
domains, staff, settings and tax rules, the catalogue import's markup, API keys and
webhooks. The payment pages' forms are in forms_payments."""

from __future__ import annotations

import ipaddress
from datetime import datetime, time, timedelta
from decimal import Decimal
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from api.keys import SCOPES
from api.webhook_events import EVENT_TYPES, PING
from api.webhooks import webhook_url_check
from billing import reports
from billing.errors import BillingError
from billing.models import Client, Payment, Product, ProductGroup
from billing.number_input import integer_parse
from portals.common import fields
from portals.common.forms import (
    LANGUAGE_CHOICES,
    AddressCleaning,
    AmountField,
    ItalianDeliveryCleaning,
    country_choices,
    country_clean,
    pec_email_field,
    sdi_code_field,
    tax_id_field,
)


class ClientForm(ItalianDeliveryCleaning, AddressCleaning, forms.Form):
    # Staff may record a client before knowing where it lives; an address, once given,
    # follows the checkout's rules.
    address_optional = True

    name = forms.CharField(label=_("Contact person"), max_length=200)
    company_name = forms.CharField(label=_("Company"), max_length=200, required=False)
    email = forms.EmailField(label=_("E-mail address"))
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    address_line1 = forms.CharField(label=_("Address"), max_length=200, required=False)
    address_line2 = forms.CharField(label=_("Address (line 2)"), max_length=200, required=False)
    postal_code = forms.CharField(label=_("Postal code"), max_length=20, required=False)
    city = forms.CharField(label=_("City"), max_length=100, required=False)
    region = forms.CharField(label=_("State or province"), max_length=100, required=False)
    country = forms.ChoiceField(label=_("Country"), choices=country_choices, required=False)
    vat_number = forms.CharField(label=_("VAT number"), max_length=32, required=False)
    tax_id = tax_id_field()
    sdi_code = sdi_code_field()
    pec_email = pec_email_field()
    language = forms.ChoiceField(label=_("Language"), choices=LANGUAGE_CHOICES)
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea)


class InvoiceNewForm(forms.Form):
    client = forms.ModelChoiceField(label=_("Client"), queryset=Client.objects.none())
    description = forms.CharField(label=_("Description"), max_length=500)
    quantity = fields.DecimalField(
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
    payment_terms_days = fields.IntegerField(label=_("Payment terms (days)"), min_value=0)
    renewal_lead_days = fields.IntegerField(
        label=_("Renewal invoices, days before due"), min_value=0, max_value=365
    )
    grace_days = fields.IntegerField(label=_("Suspend after (days overdue)"), min_value=0)
    termination_days = fields.IntegerField(label=_("Terminate after (days overdue)"), min_value=0)
    reminder_days = forms.CharField(
        label=_("Reminders (days after due)"),
        required=False,
        help_text=_("Comma-separated, for example 1, 7, 14."),
    )
    default_language = forms.ChoiceField(label=_("Default language"), choices=LANGUAGE_CHOICES)

    def clean_country(self) -> str:
        return country_clean(self.cleaned_data["country"])

    def clean_reminder_days(self) -> list[int]:
        raw = self.cleaned_data["reminder_days"]
        try:
            days = sorted(
                {integer_parse(part) for part in raw.replace(";", ",").split(",") if part.strip()}
            )
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
    rate = fields.DecimalField(
        label=_("Rate (%)"), min_value=0, max_value=Decimal("99.9999"), decimal_places=4
    )

    def clean_country(self) -> str:
        return country_clean(self.cleaned_data["country"])


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
    group = forms.ModelChoiceField(
        label=_("Import into"),
        queryset=ProductGroup.objects.all(),
        required=False,
        empty_label=_("A new group for each product type"),
        help_text=_("An existing group keeps your storefront as you arranged it."),
    )

    def clean_value(self) -> Decimal:
        value = self.cleaned_data["value"]
        if value is None or value < 0:
            raise forms.ValidationError(_("The markup cannot be negative."))
        if value > Decimal(1000):
            raise forms.ValidationError(_("The markup is too large."))
        return value


# --- API keys and webhooks -------------------------------------------------------------


def _scope_choices() -> list[tuple[str, str]]:
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


class TaxSettingsForm(forms.Form):
    """How the tenant is registered for VAT, and its choices where the law leaves one."""

    country = forms.ChoiceField(
        label=_("Country of establishment"),
        choices=country_choices,
        required=False,
        help_text=_("Where your business is established: it decides the place of supply."),
    )
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

    def clean(self) -> dict:
        data = super().clean()
        # Registration is in a country: without one no rule can place a sale, and the
        # invoices would say "not registered" to buyers of a registered seller.
        if data.get("vat_registered") and not data.get("country"):
            self.add_error(
                "country",
                _("A seller registered for VAT is registered in a country: choose yours."),
            )
        return data


class TaxReportForm(forms.Form):
    year = forms.IntegerField(label=_("Year"), min_value=2000, max_value=2100)
    quarter = forms.ChoiceField(
        label=_("Quarter"), choices=[(str(q), f"Q{q}") for q in range(1, 5)]
    )


class ReportPeriodForm(forms.Form):
    """The days a report covers; empty, the last twelve months."""

    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, today, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.today = today
        self.period = None

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        try:
            self.period = reports.report_period(
                date_from=data.get("date_from"), date_to=data.get("date_to"), today=self.today
            )
        except reports.ReportPeriodError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return data


class EmailTemplateForm(forms.Form):
    """A tenant's subject and body for one e-mail; the checks of the template language
    are the service's (billing.services.email_template_save)."""

    subject = forms.CharField(label=_("Subject"), max_length=300)
    body = forms.CharField(
        label=_("Body"),
        widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "true"}),
        help_text=_(
            "Write {{ name }} to place a value, {% if name %}…{% endif %} to write "
            "something only when it has one. Plain text: the e-mail's layout adds your "
            "logo, colour and address."
        ),
    )
