"""The tenant's billing settings and its document number sequences."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import gettext_lazy as _

from billing.models.base import TenantModel, currency_column


def _default_reminder_days() -> list[int]:
    return [1, 7, 14]


class BillingSettings(TenantModel):
    """One row per tenant schema: the seller's legal identity as it appears on the
    tenant's invoices, and the rules of its billing. The seller on a document is always
    this tenant, never the provider that hosts it."""

    class NumberReset(models.TextChoices):
        YEARLY = "yearly", _("Every year")
        NEVER = "never", _("Never")

    # The single row has this key; a check constraint keeps it single.
    SINGLETON_ID = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_ID)

    legal_name = models.CharField(_("legal name"), max_length=200, blank=True)
    address_line1 = models.CharField(max_length=200, blank=True)
    address_line2 = models.CharField(max_length=200, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    city = models.CharField(max_length=100, blank=True)
    region = models.CharField(max_length=100, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True, help_text="ISO 3166-1")
    vat_number = models.CharField(_("VAT number"), max_length=32, blank=True)
    tax_id = models.CharField(_("tax id"), max_length=32, blank=True)
    registration = models.CharField(
        _("company registration"), max_length=200, blank=True, help_text="Register, number"
    )
    bank_name = models.CharField(max_length=200, blank=True)
    iban = models.CharField(_("IBAN"), max_length=34, blank=True)
    bic = models.CharField(_("BIC"), max_length=11, blank=True)
    email_from_name = models.CharField(max_length=200, blank=True)
    email_from_address = models.EmailField(blank=True)

    currency = currency_column(default="EUR")
    prices_include_tax = models.BooleanField(
        default=False, help_text="Catalogue prices are gross (tax included) when set."
    )
    invoice_number_format = models.CharField(
        max_length=64,
        default="{year}/{seq:05d}",
        help_text="Placeholders: {year}, {prefix}, {seq} (e.g. {seq:05d}).",
    )
    credit_note_number_format = models.CharField(max_length=64, default="CN-{year}/{seq:05d}")
    number_prefix = models.CharField(max_length=20, blank=True)
    number_reset = models.CharField(
        max_length=8, choices=NumberReset.choices, default=NumberReset.YEARLY
    )

    renewal_lead_days = models.PositiveSmallIntegerField(
        default=14, help_text="Renewal invoices are issued this many days before the due date."
    )
    payment_terms_days = models.PositiveSmallIntegerField(
        default=14, help_text="Due date = issue date + this many days."
    )
    reminder_days = ArrayField(
        models.PositiveSmallIntegerField(),
        default=_default_reminder_days,
        blank=True,
        help_text="Days after the due date on which a payment reminder goes out.",
    )
    grace_days = models.PositiveSmallIntegerField(
        default=7, help_text="Days after the due date before an unpaid service is suspended."
    )
    termination_days = models.PositiveSmallIntegerField(
        default=30, help_text="Days after the due date before an unpaid service is terminated."
    )
    credit_auto_apply = models.BooleanField(
        default=True, help_text="Account credit pays new invoices as soon as they are issued."
    )
    default_language = models.CharField(max_length=8, default="en")

    # Taxes (billing.taxes): how the tenant is registered, and its choices where the law
    # leaves one.
    vat_registered = models.BooleanField(
        _("registered for VAT"), default=True, help_text="Charges VAT in its own country."
    )
    vat_small_business = models.BooleanField(
        _("small-enterprise VAT exemption"),
        default=False,
        help_text="Charges no VAT under its country's small-enterprise scheme.",
    )
    oss_registered = models.BooleanField(
        _("registered for the One-Stop Shop (OSS)"),
        default=False,
        help_text="Declares the VAT of other EU countries' consumers through the OSS.",
    )
    oss_under_threshold = models.BooleanField(
        _("under the EU distance-sales threshold"),
        default=False,
        help_text="Sales to consumers in other EU countries stay under 10,000 EUR a year: "
        "they carry the seller's own VAT until the year's total passes it.",
    )
    vies_unavailable = models.CharField(
        _("when VIES does not answer"),
        max_length=16,
        choices=[
            ("consumer", _("Sell as to a consumer, with VAT")),
            ("wait", _("Make the order wait")),
        ],
        default="consumer",
    )
    domestic_reverse_charge = ArrayField(
        models.CharField(max_length=16),
        default=list,
        blank=True,
        help_text="Tax categories sold to businesses of the seller's country under the "
        "domestic reverse charge.",
    )
    fatturapa_regime = models.CharField(
        _("FatturaPA tax regime"),
        max_length=4,
        choices=[("RF01", _("RF01 ordinario")), ("RF19", _("RF19 forfettario"))],
        default="RF01",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("billing settings")
        verbose_name_plural = _("billing settings")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(id=1), name="billing_billingsettings_single_row"
            ),
        ]

    def __str__(self) -> str:
        return self.legal_name or "Billing settings"

    @property
    def address_lines(self) -> list[str]:
        locality = " ".join(p for p in (self.postal_code, self.city) if p)
        if self.region:
            locality = f"{locality} ({self.region})" if locality else self.region
        lines = [self.address_line1, self.address_line2, locality, self.country]
        return [line for line in lines if line]


class NumberSequence(TenantModel):
    """The last number used for one document type in one year (0 when numbering never
    restarts). Issuing locks the row, so numbers are gapless and never repeat."""

    class DocumentType(models.TextChoices):
        INVOICE = "invoice", _("Invoice")
        CREDIT_NOTE = "credit_note", _("Credit note")

    document_type = models.CharField(max_length=16, choices=DocumentType.choices)
    year = models.PositiveSmallIntegerField()
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["document_type", "year"], name="billing_numbersequence_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.document_type} {self.year or '-'}: {self.last_number}"
