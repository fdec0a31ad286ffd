"""Reads that only the reseller console's pages need: the dashboard's figures, the
provider balance, and what a client's, an order's or a service's page shows beside it.
Lists that the tenant API shows too are billing's (billing.selectors)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Case, DecimalField, F, Q, QuerySet, Sum, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import PrivacyRequest, User
from accounts.two_factor import staff_two_factor_annotate
from audit.selectors import audit_entries_for
from billing.cycles import CYCLE_MONTHS, add_months
from billing.models import (
    Client,
    ConfigurableOption,
    Invoice,
    InvoiceLine,
    Order,
    OrderItem,
    Payment,
    Refund,
    Service,
    ServiceOption,
)
from billing.money import Money
from billing.selectors import client_amount_due, client_credit, tenant_currency
from resale.models import UpstreamCommand
from resale.selectors import upstream_command_list
from resale.upstreams import UpstreamRejected, UpstreamUnavailable, upstream_for_current_tenant


def month_starts(today: date, count: int = 12) -> list[date]:
    """The first days of the last ``count`` months, oldest first, this month included."""
    first = today.replace(day=1)
    return [add_months(first, -offset) for offset in range(count - 1, -1, -1)]


def _aware(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def revenue_by_month(months: list[date]) -> dict[date, Decimal]:
    """Money received per month (payments, less refunds paid back), by the day it
    arrived. Account credit applied to an invoice is not new money and is left out."""
    totals = {month: Decimal(0) for month in months}
    end = add_months(months[-1], 1)
    for month, next_month in zip(months, [*months[1:], end], strict=True):
        window = {"gte": _aware(month), "lt": _aware(next_month)}
        received = Payment.objects.filter(
            received_at__gte=window["gte"], received_at__lt=window["lt"]
        ).exclude(method=Payment.Method.ACCOUNT_CREDIT)
        refunded = Refund.objects.filter(
            created_at__gte=window["gte"], created_at__lt=window["lt"], to_credit=False
        )
        totals[month] = (received.aggregate(s=Sum("amount"))["s"] or Decimal(0)) - (
            refunded.aggregate(s=Sum("amount"))["s"] or Decimal(0)
        )
    return totals


def _monthly_amount() -> Case:
    return Case(
        *[
            When(billing_cycle=cycle, then=F("recurring_amount") / Value(Decimal(months)))
            for cycle, months in CYCLE_MONTHS.items()
        ],
        default=Value(Decimal(0)),
        output_field=DecimalField(max_digits=18, decimal_places=6),
    )


def mrr_on(day: date) -> Decimal:
    """Monthly recurring revenue of the services running at the end of ``day``: each
    recurring service's price divided by its cycle's months."""
    moment = _aware(day + timedelta(days=1))
    started = Q(activated_at__lt=moment) | Q(activated_at__isnull=True, registration_date__lte=day)
    stopped = Q(cancelled_at__lt=moment) | Q(terminated_at__lt=moment)
    running = (
        Service.objects.filter(started)
        .exclude(stopped)
        .exclude(status=Service.Status.PENDING)
        .exclude(billing_cycle="one_time")
    )
    return running.aggregate(mrr=Sum(_monthly_amount()))["mrr"] or Decimal(0)


@dataclass(frozen=True)
class MonthFigures:
    month: date
    revenue: Money
    mrr: Money


def dashboard_series(today: date, count: int = 12) -> list[MonthFigures]:
    currency = tenant_currency()
    months = month_starts(today, count)
    revenue = revenue_by_month(months)
    figures = []
    for month in months:
        month_end = min(add_months(month, 1) - timedelta(days=1), today)
        figures.append(
            MonthFigures(
                month,
                Money.of(revenue[month], currency),
                Money.of(mrr_on(month_end), currency),
            )
        )
    return figures


def overdue_invoices(today: date):
    return (
        Invoice.objects.filter(status__in=Invoice.OPEN_STATUSES, due_date__lt=today)
        .select_related("client")
        .order_by("due_date")
    )


def dashboard_counts() -> dict[str, int]:
    return {
        "clients": Client.objects.filter(status=Client.Status.ACTIVE).count(),
        "services": Service.objects.filter(status=Service.Status.ACTIVE).count(),
        "pending_orders": Order.objects.filter(status=Order.Status.PENDING).count(),
        "failed_commands": UpstreamCommand.objects.filter(
            state__in=[UpstreamCommand.State.FAILED, UpstreamCommand.State.AWAITING_FUNDS]
        ).count(),
    }


@dataclass(frozen=True)
class ProviderBalance:
    balance: Money | None
    available: Money | None
    threshold: Money | None
    error: str = ""
    # Commands the provider holds back until a top-up: only then do orders wait. A
    # balance under the alert threshold may well still cover the next orders.
    waiting: int = 0

    @property
    def is_low(self) -> bool:
        return bool(self.available is not None and self.threshold is not None) and (
            self.available.amount < self.threshold.amount
        )


def provider_balance() -> ProviderBalance:
    """This tenant's prepaid balance at its upstream, as the upstream reports it."""
    try:
        summary = upstream_for_current_tenant().balance()
    except UpstreamRejected as exc:
        if exc.code == "no_account":
            return ProviderBalance(None, None, None, _("This site does not resell a provider."))
        return ProviderBalance(None, None, None, str(exc))
    except UpstreamUnavailable:
        return ProviderBalance(None, None, None, _("The provider could not be reached."))
    currency = summary.get("currency", "EUR")

    def money(key: str) -> Money | None:
        value = summary.get(key)
        return Money.of(value, currency) if value not in (None, "") else None

    return ProviderBalance(
        money("balance"),
        money("available"),
        money("low_balance_threshold"),
        waiting=UpstreamCommand.objects.filter(state=UpstreamCommand.State.AWAITING_FUNDS).count(),
    )


# --- the pages of one client, order or service ------------------------------------------

# A page shows the latest rows of each list; the full lists are on their own pages.
PAGE_ROWS = 50


@dataclass(frozen=True)
class ClientOverview:
    services: QuerySet[Service]
    invoices: QuerySet[Invoice]
    amount_due: Money
    credit: Money
    privacy_requests: QuerySet[PrivacyRequest]
    users: QuerySet[User]
    audit: list[AuditRow]


@dataclass(frozen=True)
class AuditRow:
    at: datetime
    who: str
    what: str


# What the audit log's actions about a client read as; an action not named here shows
# its code, so a new kind of entry is never hidden from the page.
CLIENT_AUDIT_ACTIONS = {
    "client.login_as_started": gettext_lazy("Login as client started"),
    "client.login_as_ended": gettext_lazy("Login as client ended"),
    "client.exported": gettext_lazy("Personal data exported"),
    "client.erased": gettext_lazy("Personal data erased"),
}


def client_audit(*, client: Client) -> list[AuditRow]:
    """The latest audit entries about ``client``, newest first, worded for the page."""
    return [
        AuditRow(
            at=entry.at,
            who=entry.actor_label or entry.get_actor_kind_display(),
            what=str(CLIENT_AUDIT_ACTIONS.get(entry.action, entry.action)),
        )
        for entry in audit_entries_for(object_type="client", object_id=client.public_id)
    ]


def client_overview(*, client: Client) -> ClientOverview:
    return ClientOverview(
        services=client.services.select_related("plan__product")[:PAGE_ROWS],
        invoices=client.invoices.exclude(status=Invoice.Status.DRAFT)[:PAGE_ROWS],
        amount_due=client_amount_due(client=client),
        credit=client_credit(client=client),
        privacy_requests=PrivacyRequest.objects.filter(client=client),
        users=User.objects.filter(client_link__client=client),
        audit=client_audit(client=client),
    )


def order_items(*, order: Order) -> QuerySet[OrderItem]:
    return order.items.select_related("plan")


def order_services(*, order: Order) -> QuerySet[Service]:
    return Service.objects.filter(order_item__order=order).select_related("plan")


@dataclass(frozen=True)
class ServiceOverview:
    options: QuerySet[ServiceOption]
    commands: QuerySet[UpstreamCommand]
    lines: QuerySet[InvoiceLine]


def service_overview(*, service: Service) -> ServiceOverview:
    return ServiceOverview(
        options=service.options.select_related("option", "choice"),
        commands=upstream_command_list(service_ref=str(service.public_id)),
        lines=service.invoice_lines.select_related("invoice").order_by("-id")[:20],
    )


def staff_members() -> QuerySet[User]:
    """The site's staff, active ones first, each marked with whether it uses two-factor
    authentication."""
    return staff_two_factor_annotate(
        User.objects.filter(kind=User.Kind.STAFF).order_by("-is_active", "email")
    )


def configurable_options() -> list[ConfigurableOption]:
    """Every configurable option with its choices, prices and plans; resold ones carry
    their upstream option's code, the tenant's own have none."""
    return list(
        ConfigurableOption.objects.prefetch_related("choices__prices", "plans").order_by(
            "sort_order", "name"
        )
    )
