"""Reads of the billing core. Balances come from the ledger, never from a column."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import connection
from django.db.models import Q, QuerySet, Sum

from accounts.models import User
from billing.models import (
    BillingSettings,
    Client,
    ClientUser,
    Invoice,
    LedgerEntry,
    Plan,
    PlanPrice,
    Product,
    Service,
    TaxRule,
)
from billing.money import Money
from billing.taxes import TaxDecision, TaxSummaryRow, tax_decide, tax_summary
from tenants.models import Tenant


def billing_settings_get() -> BillingSettings:
    """The tenant's billing settings; the first call in a schema creates them with the
    tenant's name as legal name."""
    found = BillingSettings.objects.filter(pk=BillingSettings.SINGLETON_ID).first()
    if found is not None:
        return found

    tenant = Tenant.objects.filter(schema_name=connection.schema_name).first()
    defaults = {}
    if tenant is not None:
        defaults = {"legal_name": tenant.name, "default_language": tenant.default_language}
    BillingSettings.objects.bulk_create(
        [BillingSettings(pk=BillingSettings.SINGLETON_ID, **defaults)], ignore_conflicts=True
    )
    return BillingSettings.objects.get(pk=BillingSettings.SINGLETON_ID)


def tenant_currency() -> str:
    return billing_settings_get().currency


def _sum(queryset: QuerySet) -> Decimal:
    return queryset.aggregate(total=Sum("amount"))["total"] or Decimal(0)


def client_balance(*, client: Client) -> Money:
    """What the client owes overall, net of its account credit (negative: we owe it)."""
    return Money(_sum(client.ledger_entries.all()), tenant_currency())


def client_credit(*, client: Client) -> Money:
    """Account credit the client can spend: the entries that name no invoice."""
    entries = client.ledger_entries.filter(invoice__isnull=True).exclude(
        kind=LedgerEntry.Kind.ADJUSTMENT
    )
    return Money(-_sum(entries), tenant_currency())


def client_amount_due(*, client: Client) -> Money:
    """The sum of what is still due on the client's issued invoices."""
    return Money(_sum(client.ledger_entries.filter(invoice__isnull=False)), tenant_currency())


def invoice_ledger_due(*, invoice: Invoice) -> Money:
    """What is due on the invoice according to the ledger; equals ``invoice.amount_due``
    for every issued invoice."""
    return Money(_sum(LedgerEntry.objects.filter(invoice=invoice)), invoice.currency)


def invoice_tax_summary(*, invoice: Invoice) -> list[TaxSummaryRow]:
    return tax_summary(invoice.lines.all(), invoice.currency)


def invoice_list(
    *, client: Client | None = None, statuses: list[str] | None = None
) -> QuerySet[Invoice]:
    invoices = Invoice.objects.select_related("client")
    if client is not None:
        invoices = invoices.filter(client=client)
    if statuses:
        invoices = invoices.filter(status__in=statuses)
    return invoices


def invoice_open_overdue(*, today: date) -> QuerySet[Invoice]:
    return Invoice.objects.filter(status__in=Invoice.OPEN_STATUSES, due_date__lt=today)


def service_list(*, client: Client | None = None) -> QuerySet[Service]:
    services = Service.objects.select_related("plan__product", "client")
    if client is not None:
        services = services.filter(client=client)
    return services


def client_for_user(*, user) -> Client | None:
    link = ClientUser.objects.select_related("client").filter(user=user).first()
    return link.client if link else None


def client_language_for_user(user: User) -> str:
    """The language on a client's billing record, for a page shown to that client."""
    if getattr(user, "kind", "") != "client":
        return ""
    client = client_for_user(user=user)
    return client.language if client else ""


def tax_rules() -> dict[str, tuple[Decimal, str]]:
    return {
        rule.country.upper(): (rule.rate, rule.name)
        for rule in TaxRule.objects.filter(is_active=True)
    }


def client_tax_decision(*, client: Client, settings: BillingSettings | None = None) -> TaxDecision:
    settings = settings or billing_settings_get()
    return tax_decide(
        rules=tax_rules(),
        seller_country=settings.country,
        buyer_country=client.country,
        buyer_vat_number=client.vat_number,
        buyer_tax_exempt=client.tax_exempt,
    )


def catalogue_public() -> QuerySet[Product]:
    """What the storefront shows: public, active products with their active plans."""
    return (
        Product.objects.filter(is_active=True, visibility=Product.Visibility.PUBLIC)
        .filter(group__is_visible=True)
        .prefetch_related("plans__prices")
        .select_related("group")
    )


def plan_price_get(*, plan: Plan, cycle: str) -> PlanPrice | None:
    return PlanPrice.objects.filter(plan=plan, cycle=cycle).first()


def services_due_for_renewal(*, on_or_before: date) -> QuerySet[Service]:
    """Recurring services whose next period starts on or before the date."""
    return Service.objects.filter(
        Q(status=Service.Status.ACTIVE) | Q(status=Service.Status.SUSPENDED),
        next_due_date__isnull=False,
        next_due_date__lte=on_or_before,
        cancel_at_period_end=False,
    )
