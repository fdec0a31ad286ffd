"""What the API does that takes more than one billing service call: each function here is
a thin composition of ``billing.services`` (and resale's outbox and upstream), atomic
where it writes, so that views stay one call long."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction

from billing import services
from billing.errors import BillingError
from billing.models import (
    Client,
    ConfigurableOption,
    ConfigurableOptionChoice,
    CreditNote,
    Invoice,
    Order,
    Payment,
    Plan,
    Service,
)
from billing.money import Money
from billing.services import TermsAcceptance
from resale.panel import PanelRefusal, PanelUnavailable, service_panel_url
from resale.services import ResaleError
from resale.upstreams import (
    LocalUpstream,
    UpstreamRejected,
    UpstreamUnavailable,
    upstream_for_current_tenant,
)


def service_idempotency_key(*, api_key_id: int, header: str | None, scope: str) -> str | None:
    """A billing-service idempotency key (≤ 100 characters) derived from the request's
    ``Idempotency-Key``, so a retry that slipped past the API's own record (it expired)
    still does not act twice."""
    if not header:
        return None
    digest = hashlib.sha256(f"{api_key_id}:{header}".encode()).hexdigest()[:40]
    return f"api:{scope}:{digest}"


@dataclass(frozen=True)
class OrderLine:
    plan: Plan
    cycle: str
    quantity: int = 1
    domain_name: str = ""
    # (option id, choice id, quantity) for each option picked
    options: tuple[tuple[int, int, int], ...] = ()


@transaction.atomic
def order_place(
    *,
    client: Client,
    lines: list[OrderLine],
    coupon_code: str = "",
    idempotency_key: str | None = None,
    terms_accepted: TermsAcceptance | None = None,
) -> Order:
    """A cart for the client with these lines (and coupon), checked out at once: the
    order, its pending services and its issued invoice (billing.services.checkout_place),
    with the client's acceptance of the terms when the caller collected it."""
    if idempotency_key:
        existing = Order.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
    cart = services.cart_create(client=client)
    for line in lines:
        options: dict[ConfigurableOption, tuple[ConfigurableOptionChoice, int]] = {}
        for option_id, choice_id, quantity in line.options:
            option = ConfigurableOption.objects.filter(pk=option_id).first()
            choice = ConfigurableOptionChoice.objects.filter(pk=choice_id).first()
            if option is None or choice is None:
                raise BillingError(f"There is no option {option_id} with a choice {choice_id}.")
            options[option] = (choice, quantity)
        services.cart_item_add(
            cart=cart,
            plan=line.plan,
            cycle=line.cycle,
            quantity=line.quantity,
            domain_name=line.domain_name,
            options=options,
        )
    if coupon_code:
        services.cart_coupon_apply(cart=cart, code=coupon_code)
    return services.checkout_place(
        cart=cart, client=client, idempotency_key=idempotency_key, terms_accepted=terms_accepted
    )


@dataclass(frozen=True)
class DraftLine:
    description: str
    unit_price: Decimal
    quantity: Decimal = Decimal(1)
    kind: str = "other"
    service: Service | None = None


@transaction.atomic
def invoice_draft_create(
    *, client: Client, lines: list[DraftLine], notes: str = "", issue: bool = False
) -> Invoice:
    invoice = services.invoice_create(client=client, notes=notes)
    for line in lines:
        services.invoice_line_add(
            invoice=invoice,
            description=line.description,
            unit_price=Money(line.unit_price, invoice.currency),
            quantity=line.quantity,
            kind=line.kind,
            service=line.service,
        )
    if issue:
        invoice = services.invoice_issue(invoice=invoice)
    return invoice


def invoice_pay(
    *,
    invoice: Invoice,
    method: str,
    amount: Decimal | None,
    idempotency_key: str,
    reference: str = "",
    received_at: datetime | None = None,
) -> Payment:
    """Money received for the invoice (a transfer, or cash) or the client's account
    credit applied to it."""
    if method == Payment.Method.ACCOUNT_CREDIT:
        return services.credit_apply(
            invoice=invoice,
            amount=Money(amount, invoice.currency) if amount is not None else None,
            idempotency_key=idempotency_key,
        )
    if amount is None:
        raise BillingError("A payment needs an amount.")
    return services.payment_record(
        invoice=invoice,
        amount=Money(amount, invoice.currency),
        method=method,
        idempotency_key=idempotency_key,
        received_at=received_at,
        note=reference,
    )


def credit_note_create(
    *,
    invoice: Invoice,
    reason: str,
    lines: list[tuple[int, Decimal | None]] | None,
    idempotency_key: str | None = None,
) -> CreditNote:
    """A credit note on the invoice, in full (``lines`` None) or of (position, gross
    amount or None for the rest) parts of its lines."""
    credit_lines = None
    if lines is not None:
        by_position = {line.position: line for line in invoice.lines.all()}
        credit_lines = []
        for position, amount in lines:
            line = by_position.get(position)
            if line is None:
                raise BillingError(f"{invoice} has no line {position}.")
            credit_lines.append(
                services.CreditLine(
                    invoice_line=line,
                    amount=Money(amount, invoice.currency) if amount is not None else None,
                )
            )
    return services.credit_note_issue(
        invoice=invoice, reason=reason, lines=credit_lines, idempotency_key=idempotency_key
    )


# --- resale -------------------------------------------------------------------------------


class UpstreamError(Exception):
    """The provider refused (``unavailable`` False) or could not be reached."""

    def __init__(self, message: str, *, unavailable: bool) -> None:
        super().__init__(message)
        self.unavailable = unavailable


# Why single sign-on does not open, in the API's words; the rule is resale.panel.
_PANEL_REFUSALS = {
    PanelRefusal.NOT_RESOLD: "Single sign-on is available for services run by the provider.",
    PanelRefusal.NOT_ACTIVE: "Single sign-on is available for active services only.",
    PanelRefusal.NOT_READY: "The service has not been created at the provider yet.",
}


def service_sso_url(*, service: Service, client_ip: str = "") -> str:
    """A single sign-on link to the service's control panel, from the provider that runs
    it, for the browser at ``client_ip``."""
    try:
        return service_panel_url(service=service, client_ip=client_ip)
    except PanelUnavailable as exc:
        if exc.reason in _PANEL_REFUSALS:
            raise BillingError(_PANEL_REFUSALS[exc.reason]) from exc
        if exc.reason == PanelRefusal.BAD_URL:
            raise UpstreamError(
                "The provider sent an address that cannot be opened.", unavailable=False
            ) from exc
        raise UpstreamError(exc.detail, unavailable=exc.reason == PanelRefusal.UNREACHABLE) from exc


def reseller_balance_get() -> dict:
    try:
        return upstream_for_current_tenant().balance()
    except (UpstreamRejected, ResaleError) as exc:
        raise UpstreamError(str(exc), unavailable=False) from exc
    except UpstreamUnavailable as exc:
        raise UpstreamError(str(exc), unavailable=True) from exc


def reseller_ledger_entries(*, kind: str = "") -> list[dict] | None:
    """The movements of this tenant's balance at the provider, newest first: from the
    provider's ledger when it is this installation (None: read ``reseller_ledger_query``),
    or as the remote provider's API lists them."""
    upstream = upstream_for_current_tenant()
    if isinstance(upstream, LocalUpstream):
        return None
    try:
        # The Upstream interface has no ledger call yet; the remote resale API has one.
        entries = upstream._call("GET", "ledger/").get("results", [])
    except UpstreamRejected as exc:
        raise UpstreamError(str(exc), unavailable=False) from exc
    except UpstreamUnavailable as exc:
        raise UpstreamError(str(exc), unavailable=True) from exc
    return [entry for entry in entries if not kind or entry.get("kind") == kind]
