"""Reads of the billing core. Balances come from the ledger, never from a column."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import connection
from django.db.models import Prefetch, Q, QuerySet, Sum

from accounts.models import User
from billing import geo
from billing.cycles import CYCLE_MONTHS
from billing.models import (
    BillingSettings,
    Client,
    ClientUser,
    Contact,
    CreditNote,
    CreditNoteLine,
    EmailTemplate,
    Invoice,
    InvoiceLine,
    LedgerEntry,
    Order,
    Payment,
    Plan,
    PlanPrice,
    Product,
    Service,
    TaxRule,
    VatNumberCheck,
)
from billing.money import Money
from billing.taxes import (
    SALE_RULE_LABELS,
    BuyerProfile,
    SaleRule,
    SellerProfile,
    SupplyType,
    TaxDecision,
    TaxSummaryRow,
    VatStatus,
    tax_decide,
    tax_summary,
)
from tenants.models import Tenant

# The rules under which a sale counts towards the EU distance-sales threshold.
EU_DISTANCE_SALE_RULES = (
    SaleRule.EU_UNDER_THRESHOLD,
    SaleRule.EU_OSS,
    SaleRule.EU_DESTINATION,
)


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


def invoice_tax_record(*, invoice: Invoice) -> dict:
    """Why the invoice is taxed as it is (the engine's decisions and the VIES check kept at
    issue), with the evidence of the buyer's location completed by the cards that paid it."""
    record = dict((invoice.buyer or {}).get("tax") or {})
    if not record:
        return {}
    cards = list(invoice.payments.exclude(card_country="").values_list("card_country", flat=True))
    location = record.get("location") or {"billing_country": invoice.buyer.get("country", "")}
    record["location"] = geo.evidence_with_cards(location, cards)
    # One row per distinct rule: an invoice's lines usually share theirs.
    rules: dict[tuple, dict] = {}
    for decision in record.get("decisions", []):
        key = tuple(decision.get(k) for k in ("rule", "category", "rate", "country"))
        rules.setdefault(
            key,
            {**decision, "label": SALE_RULE_LABELS.get(decision.get("rule"), decision.get("rule"))},
        )
    record["rules"] = list(rules.values())
    return record


def invoice_tax_summary(*, invoice: Invoice) -> list[TaxSummaryRow]:
    return tax_summary(invoice.lines.all(), invoice.currency)


# The lists below are read by the console's pages and the tenant API alike, each with
# what both show of a row, in the model's order unless said otherwise.


def client_list(*, search: str = "") -> QuerySet[Client]:
    """The tenant's clients; ``search`` matches the name, company name or e-mail address."""
    clients = Client.objects.all()
    search = search.strip()
    if search:
        clients = clients.filter(
            Q(name__icontains=search)
            | Q(company_name__icontains=search)
            | Q(email__icontains=search)
        )
    return clients


def contact_list(*, client: Client) -> QuerySet[Contact]:
    return Contact.objects.filter(client=client)


def product_list() -> QuerySet[Product]:
    """Every product of the catalogue, hidden and inactive ones included, with its plans
    and their prices."""
    return Product.objects.select_related("group").prefetch_related("plans__prices")


def plan_list() -> QuerySet[Plan]:
    return Plan.objects.select_related("product").prefetch_related(
        "prices", "configurable_options__choices__prices"
    )


def order_list(*, status: str | None = None) -> QuerySet[Order]:
    orders = Order.objects.select_related("client", "invoice", "terms_version").prefetch_related(
        "items__plan", "items__services"
    )
    if status:
        orders = orders.filter(status=status)
    return orders


def invoice_list(
    *, client: Client | None = None, statuses: list[str] | None = None
) -> QuerySet[Invoice]:
    invoices = Invoice.objects.select_related("client").prefetch_related(
        Prefetch(
            "lines",
            queryset=InvoiceLine.objects.select_related("service").order_by("position", "id"),
        )
    )
    if client is not None:
        invoices = invoices.filter(client=client)
    if statuses:
        invoices = invoices.filter(status__in=statuses)
    return invoices


def credit_note_list(*, invoice: Invoice | None = None) -> QuerySet[CreditNote]:
    notes = CreditNote.objects.select_related("client", "invoice")
    if invoice is not None:
        notes = notes.filter(invoice=invoice)
    return notes


def payment_list(
    *,
    method: str = "",
    client_search: str = "",
    received_from: date | None = None,
    received_to: date | None = None,
    refunded_only: bool = False,
) -> QuerySet[Payment]:
    """Payments received, narrowed by method, by the client's name or e-mail, by the day
    they were received (both ends included, in the site's time zone) and to those with
    refunds; the console's list and the API read it."""
    payments = Payment.objects.select_related("client", "invoice")
    if method:
        payments = payments.filter(method=method)
    if client_search:
        payments = payments.filter(
            Q(client__name__icontains=client_search) | Q(client__email__icontains=client_search)
        )
    if received_from:
        payments = payments.filter(received_at__date__gte=received_from)
    if received_to:
        payments = payments.filter(received_at__date__lte=received_to)
    if refunded_only:
        payments = payments.filter(refunded_amount__gt=0)
    return payments


def payment_totals(*, payments: QuerySet[Payment]) -> list[tuple[Money, Money]]:
    """Received and refunded, per currency, of a list of payments (one query)."""
    rows = (
        payments.order_by()
        .values("currency")
        .annotate(received=Sum("amount"), refunded=Sum("refunded_amount"))
        .order_by("currency")
    )
    return [
        (Money(row["received"], row["currency"]), Money(row["refunded"], row["currency"]))
        for row in rows
    ]


def invoice_open_overdue(*, today: date) -> QuerySet[Invoice]:
    return Invoice.objects.filter(status__in=Invoice.OPEN_STATUSES, due_date__lt=today)


def service_list(*, client: Client | None = None, status: str | None = None) -> QuerySet[Service]:
    services = Service.objects.select_related("plan__product", "client")
    if client is not None:
        services = services.filter(client=client)
    if status:
        services = services.filter(status=status)
    return services


def client_for_user(*, user) -> Client | None:
    link = ClientUser.objects.select_related("client").filter(user=user).first()
    return link.client if link else None


def tax_rule_list() -> QuerySet[TaxRule]:
    """The rules in force; removed ones stay in the table for the invoices that name them."""
    return TaxRule.objects.filter(is_active=True)


def client_language_for_user(user: User) -> str:
    """The language on a client's billing record, for a page shown to that client."""
    if getattr(user, "kind", "") != "client":
        return ""
    client = client_for_user(user=user)
    return client.language if client else ""


def tax_rules() -> dict[str, tuple[Decimal, str]]:
    return {rule.country.upper(): (rule.rate, rule.name) for rule in tax_rule_list()}


def eu_distance_sales_total(*, year: int) -> Money:
    """The year's sales to consumers in other EU countries so far, net of credit notes:
    what the EU-wide 10,000 EUR threshold is measured against."""
    sold = InvoiceLine.objects.filter(
        invoice__issue_date__year=year, tax_rule__in=EU_DISTANCE_SALE_RULES
    ).exclude(invoice__status__in=[Invoice.Status.DRAFT])
    credited = CreditNoteLine.objects.filter(
        credit_note__issue_date__year=year, tax_rule__in=EU_DISTANCE_SALE_RULES
    )
    total = (sold.aggregate(total=Sum("net_amount"))["total"] or Decimal(0)) - (
        credited.aggregate(total=Sum("net_amount"))["total"] or Decimal(0)
    )
    return Money(total, tenant_currency())


def seller_tax_profile(*, settings: BillingSettings, on_date: date) -> SellerProfile:
    """The tenant as the tax engine sees it. A tenant on Italy's forfettario regime
    (RF19) charges no VAT, like any small-enterprise scheme."""
    return SellerProfile(
        country=settings.country,
        vat_registered=settings.vat_registered,
        small_business=settings.vat_small_business or settings.fatturapa_regime == "RF19",
        oss_registered=settings.oss_registered,
        under_threshold=settings.oss_under_threshold,
        eu_distance_sales=(
            eu_distance_sales_total(year=on_date.year).amount
            if settings.oss_under_threshold
            else Decimal(0)
        ),
        domestic_reverse_charge=frozenset(settings.domestic_reverse_charge or ()),
        vies_unavailable=settings.vies_unavailable,
        rules=tax_rules(),
    )


def client_vat_check(*, client: Client) -> VatNumberCheck | None:
    """The latest VIES answer about the client's current VAT number. VIES out of
    service says nothing about the number: an earlier answer still stands."""
    if not client.vat_number:
        return None
    checks = VatNumberCheck.objects.filter(client=client, vat_number=client.vat_number)
    answered = checks.exclude(status=VatNumberCheck.Status.UNAVAILABLE).first()
    return answered or checks.first()


def client_vat_status(*, client: Client) -> str:
    if not client.vat_number:
        return VatStatus.NONE
    check = client_vat_check(client=client)
    return check.status if check is not None else VatStatus.UNCHECKED


def buyer_tax_profile(*, client: Client) -> BuyerProfile:
    return BuyerProfile(
        country=client.country,
        vat_number=client.vat_number,
        vat_status=client_vat_status(client=client),
        tax_exempt=client.tax_exempt,
    )


def client_tax_decision(
    *,
    client: Client,
    settings: BillingSettings | None = None,
    supply: str = SupplyType.ELECTRONIC,
    on_date: date | None = None,
    sale_amount: Decimal = Decimal(0),
    seller: SellerProfile | None = None,
) -> TaxDecision:
    """The tax engine's decision for a sale to the client. Raises TaxRateMissing when
    the sale needs a rate nobody configured, TaxDecisionPending when VIES did not answer
    and the tenant waits for it."""
    on_date = on_date or date.today()
    if seller is None:
        seller = seller_tax_profile(settings=settings or billing_settings_get(), on_date=on_date)
    return tax_decide(
        seller=seller,
        buyer=buyer_tax_profile(client=client),
        supply=supply,
        on_date=on_date,
        sale_amount=sale_amount,
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


# The statuses in which a service earns its recurring price: a suspension is a pause
# for an unpaid invoice, not a loss, so it keeps its MRR until terminated.
MRR_STATUSES = (Service.Status.ACTIVE, Service.Status.SUSPENDED)


def service_mrr(*, service: Service) -> Money:
    """The service's monthly recurring revenue: its cycle price (in the tenant's price
    convention, as the dashboard's MRR) over the cycle's months, rounded once; zero for a
    one-time purchase or a service not running."""
    months = CYCLE_MONTHS.get(service.billing_cycle)
    if months is None or service.status not in MRR_STATUSES:
        return Money.zero(service.currency)
    return Money.of(service.recurring_amount / months, service.currency)


def email_template_get(*, kind: str, language: str) -> EmailTemplate | None:
    """The tenant's own text for ``kind`` in ``language`` ("" every language), if any."""
    return EmailTemplate.objects.filter(kind=kind, language=language).first()


def email_templates_written() -> set[tuple[str, str]]:
    """(kind, language) of every text the tenant wrote."""
    return set(EmailTemplate.objects.values_list("kind", "language"))
