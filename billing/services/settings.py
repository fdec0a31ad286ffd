"""Changing the tenant's billing settings and its tax rules."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from billing.errors import BillingError
from billing.models import BillingSettings, Invoice, TaxRule
from billing.money import currency_validate
from billing.numbering import number_format_validate
from billing.selectors import billing_settings_get
from billing.taxes import SupplyType

_EDITABLE = {field.name for field in BillingSettings._meta.fields} - {"id", "updated_at"}


@transaction.atomic
def billing_settings_update(**changes: Any) -> BillingSettings:
    """Updates the named settings after checking them. Issued documents keep the
    identity they were issued with: they carry their own snapshot."""
    unknown = set(changes) - _EDITABLE
    if unknown:
        raise BillingError(f"Unknown billing settings: {', '.join(sorted(unknown))}.")
    settings = billing_settings_get()
    settings = BillingSettings.objects.select_for_update().get(pk=settings.pk)
    if "currency" in changes:
        try:
            currency = currency_validate(changes["currency"])
        except ValueError as exc:
            raise BillingError(str(exc)) from exc
        if currency != settings.currency and Invoice.objects.exists():
            raise BillingError(
                "The currency cannot change once invoices exist: every amount on them "
                f"is in {settings.currency}."
            )
        changes["currency"] = currency
    for name, value in changes.items():
        setattr(settings, name, value)
    if settings.country:
        settings.country = settings.country.upper()
    yearly = settings.number_reset == BillingSettings.NumberReset.YEARLY
    settings.invoice_number_format = number_format_validate(
        settings.invoice_number_format, yearly=yearly
    )
    settings.credit_note_number_format = number_format_validate(
        settings.credit_note_number_format, yearly=yearly
    )
    if settings.invoice_number_format.format(year=2000, seq=1, prefix=settings.number_prefix) == (
        settings.credit_note_number_format.format(year=2000, seq=1, prefix=settings.number_prefix)
    ):
        raise BillingError("Invoices and credit notes need different number formats.")
    if any(
        kind not in SupplyType.__members__.values() for kind in settings.domestic_reverse_charge
    ):
        raise BillingError("The domestic reverse charge names a tax category that does not exist.")
    if any(day < 0 or day > 365 for day in settings.reminder_days or []):
        raise BillingError("Reminder days are between 0 and 365.")
    if settings.termination_days < settings.grace_days:
        raise BillingError("Termination cannot come before suspension.")
    try:
        settings.full_clean()
    except Exception as exc:
        raise BillingError(f"Invalid billing settings: {exc}") from exc
    settings.save()
    return settings


def tax_rule_remove(*, rule: TaxRule) -> TaxRule:
    """Stops applying the rule. It is never deleted: issued invoices name it."""
    rule.is_active = False
    rule.save(update_fields=["is_active"])
    return rule
