"""The tenant's clients, their contacts and the client users who log in for them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from billing.models.base import TenantModel, public_id_column


class Client(TenantModel):
    """A buyer. Its account credit and balance are sums of ledger entries, never columns."""

    class Kind(models.TextChoices):
        PERSON = "person", _("Person")
        COMPANY = "company", _("Company")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        INACTIVE = "inactive", _("Inactive")
        CLOSED = "closed", _("Closed")

    public_id = public_id_column()
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.PERSON)
    name = models.CharField(_("name"), max_length=200, help_text="The person's full name.")
    company_name = models.CharField(max_length=200, blank=True)
    email = models.EmailField()
    phone = models.CharField(max_length=40, blank=True)
    address_line1 = models.CharField(max_length=200, blank=True)
    address_line2 = models.CharField(max_length=200, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    city = models.CharField(max_length=100, blank=True)
    region = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1")
    vat_number = models.CharField(_("VAT number"), max_length=32, blank=True)
    tax_id = models.CharField(_("tax id"), max_length=32, blank=True)
    # Italy: where the Sistema di Interscambio delivers the client's e-invoices, either a
    # seven-character recipient code or, failing that, a certified e-mail (PEC) address.
    sdi_code = models.CharField(_("SdI recipient code"), max_length=7, blank=True)
    pec_email = models.EmailField(_("PEC address"), blank=True)
    tax_exempt = models.BooleanField(default=False)
    language = models.CharField(max_length=8, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["email"], name="billing_client_email_idx")]

    def __str__(self) -> str:
        return self.company_name or self.name

    @property
    def display_name(self) -> str:
        return self.company_name or self.name

    @property
    def address_lines(self) -> list[str]:
        locality = " ".join(p for p in (self.postal_code, self.city) if p)
        if self.region:
            locality = f"{locality} ({self.region})" if locality else self.region
        lines = [self.address_line1, self.address_line2, locality, self.country]
        return [line for line in lines if line]


class Contact(TenantModel):
    """Someone else at the client who receives some of its e-mails."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=200)
    email = models.EmailField()
    phone = models.CharField(max_length=40, blank=True)
    receives_invoices = models.BooleanField(default=False)
    receives_technical = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["client", "name"]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


class ClientUser(TenantModel):
    """Links a login (``accounts.User`` of kind client) to the client it acts for. A
    client may have several users; a user acts for one client."""

    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        BILLING = "billing", _("Billing")
        TECHNICAL = "technical", _("Technical")

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="client_users")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="client_link"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.OWNER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["client", "user"]

    def __str__(self) -> str:
        return f"{self.user} → {self.client}"


class VatNumberCheck(TenantModel):
    """One consultation of VIES (billing.vies) about a client's VAT number, kept as the
    proof a tax auditor asks for: the day, VIES's answer and its consultation number."""

    class Status(models.TextChoices):
        VALID = "valid", _("Valid")
        INVALID = "invalid", _("Invalid")
        UNAVAILABLE = "unavailable", _("VIES unavailable")

    client = models.ForeignKey(
        Client, on_delete=models.CASCADE, related_name="vat_checks", db_index=False
    )
    vat_number = models.CharField(max_length=32)
    status = models.CharField(max_length=16, choices=Status.choices)
    checked_at = models.DateTimeField()
    request_date = models.DateField(null=True, blank=True)
    request_identifier = models.CharField(max_length=64, blank=True)
    trader_name = models.CharField(max_length=200, blank=True)
    trader_address = models.CharField(max_length=500, blank=True)
    fault = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-checked_at", "-id"]
        indexes = [
            models.Index(
                fields=["client", "vat_number", "-checked_at"], name="billing_vatcheck_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.vat_number} {self.status} ({self.checked_at:%Y-%m-%d})"
