"""What the portals do with a tenant's resold domains, through the upstream interface:
the registry's record of a client's domain read and changed now (nameservers, lock,
glue records, DNSSEC, the registrant, a new auth code shown once and audited), the
availability of names at the provider's registrars, and a restore from redemption."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import CharField, F, OuterRef, Subquery, Sum
from django.db.models.functions import Cast, Coalesce
from django.utils import translation
from django.utils.translation import gettext

from audit.services import audit_record
from billing.models import CreditNote, DomainPrice, Invoice, InvoiceLine, Service
from billing.money import Money
from billing.selectors import billing_settings_get, client_tax_decision
from billing.services import (
    CreditLine,
    credit_note_issue,
    invoice_create,
    invoice_issue,
    invoice_line_add,
)
from billing.taxes import TaxDecisionPending, TaxRateMissing, line_amounts
from core.crypto import secret_encrypt
from resale.billing_bridge import upstream_domain_restore_queue
from resale.domain_bridge import domain_state_apply, registrant_contact
from resale.domains import DomainSecrets
from resale.models import ResoldDomain, UpstreamCommand
from resale.outbox import upstream_command_queue
from resale.selectors import DOMAIN_PLAN_PREFIX, service_is_resold_domain, service_upstream_ref
from resale.services import ResaleError
from resale.upstreams import UpstreamRejected, UpstreamUnavailable, upstream_for_current_tenant

# --- the client area's domain page --------------------------------------------------------


class DomainRefused(Exception):
    """Why a domain operation did not happen, in the upstream's words; ``unreachable``
    when it could not be asked (try again later)."""

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.unreachable = unreachable


def domain_reference(service: Service) -> str:
    """The provider's reference of a tenant's domain service, or DomainRefused."""
    if not service_is_resold_domain(service):
        raise DomainRefused("not a resold domain")
    reference = service_upstream_ref(service=service)
    if not reference:
        raise DomainRefused("not registered yet")
    return reference


def domain_manage(*, service: Service, operation: str, params: dict | None = None) -> dict:
    """One operation on the registrar's record of the client's domain, now. A new auth
    code is returned to show once, is kept nowhere and its showing is audited."""
    reference = domain_reference(service)
    secrets = None
    if operation == "contact":
        secrets = DomainSecrets(contact=registrant_contact(service.client))
    try:
        result = upstream_for_current_tenant().domain_manage(
            service_ref=reference, operation=operation, params=params, secrets=secrets
        )
    except UpstreamUnavailable as exc:
        raise DomainRefused(str(exc), unreachable=True) from exc
    except (UpstreamRejected, ResaleError) as exc:
        raise DomainRefused(getattr(exc, "message", str(exc))) from exc
    if operation != "info":
        audit_record(
            action=f"domain.{operation}",
            object_type="service",
            object_id=service.public_id,
            # What changed, never the auth code itself.
            after={k: v for k, v in (params or {}).items()} if operation != "auth_code" else {},
        )
    if result.get("domain"):
        domain_state_apply(upstream_ref=reference, state=result)
    return result


def domains_available(*, names: list[str]) -> dict[str, dict]:
    """The provider's registrars' answer for names under TLDs it sells: name →
    ``{"available", "premium", "reason"}``; {} when the upstream cannot be asked."""
    try:
        answers = upstream_for_current_tenant().domain_check(domains=names)
    except (UpstreamUnavailable, UpstreamRejected):
        return {}
    return {answer["domain"]: answer for answer in answers}


# Why a transfer in failed, as the provider reports it (resale.domains.failure_code).
AUTH_CODE_REFUSED = "auth_code_refused"


def domain_transfer_failed(*, service: Service) -> UpstreamCommand | None:
    """The service's transfer in when its latest attempt failed: its ``response`` holds
    why (``error_code``). None while an attempt is under way or once one succeeded."""
    last = (
        UpstreamCommand.objects.filter(
            service_ref=str(service.public_id), action=UpstreamCommand.Action.DOMAIN_TRANSFER
        )
        .order_by("-created_at", "-pk")
        .first()
    )
    if last is None or last.state != UpstreamCommand.State.FAILED:
        return None
    return last


@transaction.atomic
def domain_transfer_retry(*, service: Service, auth_code: str) -> UpstreamCommand:
    """A transfer in the registry refused goes again with a new auth code, on the order
    the client already paid: the provider refunded the reseller for the refused attempt
    and debits the new one once. The code is kept encrypted on the order line, as at
    checkout, and read only when the command is sent."""
    service = (
        Service.objects.select_for_update(of=("self",))
        .select_related("order_item")
        .get(pk=service.pk)
    )
    failed = domain_transfer_failed(service=service)
    if service.status != Service.Status.PENDING or failed is None or service.order_item is None:
        raise DomainRefused(gettext("There is no refused transfer to try again."))
    code = (auth_code or "").strip()
    if not 6 <= len(code) <= 255 or not code.isprintable():
        raise DomainRefused(
            gettext("Type the domain's auth code, as its current registrar gave it.")
        )
    item = service.order_item
    item.domain_auth_code_encrypted = secret_encrypt(code)
    item.save(update_fields=["domain_auth_code_encrypted"])
    attempts = UpstreamCommand.objects.filter(
        service_ref=str(service.public_id), action=UpstreamCommand.Action.DOMAIN_TRANSFER
    ).count()
    command = upstream_command_queue(
        action=UpstreamCommand.Action.DOMAIN_TRANSFER,
        service_ref=str(service.public_id),
        payload=dict(failed.payload),
        # A new key per attempt: the provider answers a key it has seen with its first
        # result, which was the refusal.
        idempotency_key=f"domain_transfer:{service.public_id}:{attempts + 1}",
    )
    audit_record(
        action="domain.transfer_retried",
        object_type="service",
        object_id=service.public_id,
        after={"attempt": attempts + 1},
    )
    return command


def resold_domain_get(*, service: Service) -> ResoldDomain | None:
    return ResoldDomain.objects.filter(service_ref=str(service.public_id)).first()


def domain_restore_queue(*, service: Service) -> UpstreamCommand:
    """Staff bring a domain back from redemption: the provider restores it at the
    registry and debits its restore fee. Once per redemption (keyed by the expiry)."""
    record = resold_domain_get(service=service)
    if record is None or record.status != "redemption":
        raise DomainRefused(gettext("Only a domain in its redemption period can be restored."))
    domain_reference(service)
    command = upstream_domain_restore_queue(service=service)
    if command is None:
        raise DomainRefused(gettext("Only a domain in its redemption period can be restored."))
    return command


def domain_restore_charges(*, service: Service) -> tuple[Money, Money] | None:
    """The two parts of a restore from redemption, from the domain plan's prices: the
    restore fee and one year of renewal. The registry reinstates the domain with the
    year its expiry auto-renewed (RFC 3915), so a restore always brings that year and
    the client pays for it here, not on the lapsed renewal invoice. None when the plan
    has no restore price."""
    price = DomainPrice.objects.filter(plan_id=service.plan_id).first()
    if price is None:
        return None
    return price.restore, price.renew


@dataclass(frozen=True)
class RestoreQuote:
    """What the client will pay for a restore: ``tax_included`` is False when the tax of
    the sale cannot be decided yet (a rate nobody configured, VIES not answering), and
    ``amount`` is then the price before tax."""

    amount: Money
    tax_included: bool


def domain_restore_quote(*, service: Service) -> RestoreQuote | None:
    """The restore invoice's total as issuing it will compute it: the same two lines,
    each taxed and rounded on its own, with the client's tax for what the domain's
    product sells; None when the plan has no restore price."""
    charges = domain_restore_charges(service=service)
    if charges is None:
        return None
    settings = billing_settings_get()
    try:
        decision = client_tax_decision(
            client=service.client,
            settings=settings,
            supply=service.plan.product.tax_category,
            sale_amount=sum((charge.amount for charge in charges), Decimal(0)),
        )
    except (TaxRateMissing, TaxDecisionPending):
        return RestoreQuote(amount=charges[0] + charges[1], tax_included=False)
    total = Money.zero(charges[0].currency)
    for charge in charges:
        total += line_amounts(
            unit_price=charge,
            quantity=1,
            decision=decision,
            prices_include_tax=settings.prices_include_tax,
        ).total
    return RestoreQuote(amount=total, tax_included=True)


def _lapsed_renewals_credit(*, service: Service, restore_invoice: Invoice) -> list[CreditNote]:
    """The renewal the client left unpaid (why the domain lapsed) is replaced by the
    year on the restore invoice: its lines for this domain are credited, so paying the
    old invoice can no longer renew the domain a second time. Only this domain's lines:
    an invoice renewing other services too keeps them due. What was paid of it becomes
    account credit (credit notes, as an issued invoice is never edited)."""
    notes = []
    lapsed = (
        Invoice.objects.filter(
            lines__service=service,
            lines__kind=InvoiceLine.Kind.RENEWAL,
            status__in=Invoice.OPEN_STATUSES,
        )
        .exclude(pk=restore_invoice.pk)
        .distinct()
        .order_by("pk")
    )
    for invoice in lapsed:
        # A line credited before (in part) has only its rest credited; one credited in
        # full is left out, as crediting nothing more is refused.
        renewals = invoice.lines.filter(
            service=service, kind=InvoiceLine.Kind.RENEWAL, total_amount__gt=0
        ).annotate(credited=Coalesce(Sum("credit_note_lines__total_amount"), Decimal(0)))
        lines = [
            CreditLine(invoice_line=line) for line in renewals if line.credited < line.total_amount
        ]
        if not lines:
            continue
        with translation.override(invoice.language):
            reason = gettext(
                "The renewal of %(domain)s is replaced by its restore from redemption "
                "(invoice %(number)s), which includes the year."
            ) % {"domain": service.domain_name, "number": restore_invoice.number}
        notes.append(
            credit_note_issue(
                invoice=invoice,
                reason=reason,
                lines=lines,
                idempotency_key=f"domain-restore-credit:{restore_invoice.pk}:{invoice.pk}",
            )
        )
    return notes


@transaction.atomic
def domain_restore_order(*, service: Service, send_now: bool = False) -> Invoice:
    """The restore of a client's domain from redemption, charged to the client: an
    invoice, issued now, for the plan's restore price and one year of renewal (the
    registry adds that year on restoring); the lapsed renewal invoice of the domain is
    credited. Paying it sends the restore (``resale.billing_bridge``). Staff may send it
    at once (``send_now``), taking the provider's fee from their balance before the
    client pays. An open restore invoice of the same domain is reused, so asking twice
    bills once."""
    service = (
        Service.objects.select_for_update(of=("self",)).select_related("client").get(pk=service.pk)
    )
    record = resold_domain_get(service=service)
    if record is None or record.status != "redemption":
        raise DomainRefused(gettext("Only a domain in its redemption period can be restored."))
    domain_reference(service)
    charges = domain_restore_charges(service=service)
    if charges is None:
        raise DomainRefused(gettext("This domain has no restore price; contact us."))
    restore_fee, year = charges
    invoice = (
        Invoice.objects.filter(
            lines__service=service,
            lines__kind=InvoiceLine.Kind.DOMAIN_RESTORE,
            status__in=Invoice.OPEN_STATUSES,
        )
        .distinct()
        .first()
    )
    if invoice is None:
        invoice = invoice_create(client=service.client)
        with translation.override(invoice.language):
            restore_text = gettext("Restore of %(domain)s from redemption") % {
                "domain": service.domain_name
            }
            year_text = gettext("%(domain)s: one year of renewal, added by the restore") % {
                "domain": service.domain_name
            }
        invoice_line_add(
            invoice=invoice,
            kind=InvoiceLine.Kind.DOMAIN_RESTORE,
            description=restore_text,
            unit_price=restore_fee,
            service=service,
        )
        # A restore line too, not a renewal: paying it must not send a renew, as the
        # restore itself brings the year.
        invoice_line_add(
            invoice=invoice,
            kind=InvoiceLine.Kind.DOMAIN_RESTORE,
            description=year_text,
            unit_price=year,
            service=service,
        )
        invoice = invoice_issue(invoice=invoice)
        credited = _lapsed_renewals_credit(service=service, restore_invoice=invoice)
        audit_record(
            action="domain.restore_invoiced",
            object_type="service",
            object_id=service.public_id,
            after={
                "invoice": invoice.number,
                "amount": str((restore_fee + year).amount),
                "credited": [note.number for note in credited],
            },
        )
    if send_now:
        domain_restore_queue(service=service)
    return invoice


def resold_domains_list():
    """The tenant's domain services with the registry's status and expiry, soonest
    expiry first (the console's Registered domains)."""
    records = ResoldDomain.objects.filter(service_ref=Cast(OuterRef("public_id"), CharField()))
    return (
        Service.objects.filter(plan__upstream_plan_ref__startswith=DOMAIN_PLAN_PREFIX)
        .select_related("client", "plan")
        .annotate(
            registry_status=Subquery(records.values("status")[:1]),
            registry_expires_on=Subquery(records.values("expires_on")[:1]),
        )
        .order_by(F("registry_expires_on").asc(nulls_last=True), "domain_name")
    )


def domain_commands_failed():
    """Domain commands the provider refused or could not carry out, with its reasons."""
    return UpstreamCommand.objects.filter(
        action__in=[
            UpstreamCommand.Action.DOMAIN_REGISTER,
            UpstreamCommand.Action.DOMAIN_TRANSFER,
            UpstreamCommand.Action.DOMAIN_RENEW,
            UpstreamCommand.Action.DOMAIN_RESTORE,
        ],
        state=UpstreamCommand.State.FAILED,
    ).order_by("-created_at")
