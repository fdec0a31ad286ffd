"""Money in and out: payments of invoices, refunds, account credit."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from billing.errors import BillingError
from billing.models import Client, Invoice, LedgerEntry, Payment, Refund
from billing.money import Money
from billing.selectors import client_credit, tenant_currency
from billing.services._common import client_lock, invoice_lock, money_input
from billing.services.invoice_status import invoice_status_refresh
from billing.services.ledger import ledger_entry_append

RECORDABLE_METHODS = {
    Payment.Method.MANUAL,
    Payment.Method.BANK_TRANSFER,
    Payment.Method.GATEWAY,
}


def _key_check(key: str | None) -> str:
    key = (key or "").strip()
    if not key or len(key) > 100:
        raise BillingError("A payment needs an idempotency key of 1 to 100 characters.")
    return key


def _payable(invoice: Invoice) -> None:
    if invoice.status == Invoice.Status.CANCELLED:
        raise BillingError(f"{invoice} is cancelled; it cannot be paid.")
    if invoice.status == Invoice.Status.DRAFT:
        raise BillingError(f"{invoice} is a draft; issue it before recording a payment.")
    if invoice.status == Invoice.Status.PAID or invoice.amount_due.amount <= 0:
        raise BillingError(f"{invoice} is already paid.")


@transaction.atomic
def payment_record(
    *,
    invoice: Invoice,
    amount: Money,
    method: str,
    idempotency_key: str,
    gateway: str = "",
    gateway_reference: str = "",
    received_at: datetime | None = None,
    note: str = "",
    created_by=None,
    card_country: str = "",
) -> Payment:
    """Records money received for an invoice. The same idempotency key again returns the
    first payment instead of paying twice; two payments racing for the same invoice are
    serialised on the invoice row, so together they never pay more than is due."""
    key = _key_check(idempotency_key)
    if method not in RECORDABLE_METHODS:
        raise BillingError(
            f"“{method}” is not a payment method here; account credit is applied with credit_apply."
        )
    money = money_input(amount, currency=invoice.currency, what="The payment")
    invoice = invoice_lock(invoice)
    existing = Payment.objects.filter(idempotency_key=key).first()
    if existing is not None:
        if existing.invoice_id != invoice.pk or existing.money != money:
            raise BillingError("This idempotency key was already used for another payment.")
        return existing
    _payable(invoice)
    if money > invoice.amount_due:
        raise BillingError(
            f"The payment of {money} is more than the {invoice.amount_due} due on {invoice}."
        )
    payment = Payment.objects.create(
        client_id=invoice.client_id,
        invoice=invoice,
        method=method,
        gateway=gateway,
        gateway_reference=gateway_reference,
        currency=money.currency,
        amount=money.amount,
        received_at=received_at or timezone.now(),
        note=note[:500],
        card_country=card_country.upper()
        if len(card_country) == 2 and card_country.isalpha()
        else "",
        idempotency_key=key,
        created_by=created_by,
    )
    ledger_entry_append(
        client=invoice.client,
        kind=LedgerEntry.Kind.PAYMENT,
        amount=-money,
        invoice=invoice,
        payment=payment,
        description=f"Payment of invoice {invoice.number}",
        idempotency_key=f"payment:{key}",
    )
    invoice.paid_amount += money.amount
    invoice.save(update_fields=["paid_amount", "updated_at"])
    invoice_status_refresh(invoice=invoice)
    return payment


def credit_available(*, client: Client) -> Money:
    return client_credit(client=client)


@transaction.atomic
def credit_add(
    *,
    client: Client,
    amount: Money,
    idempotency_key: str,
    description: str = "Account credit",
    payment_method: str | None = None,
    gateway: str = "",
    gateway_reference: str = "",
    received_at: datetime | None = None,
) -> LedgerEntry:
    """Adds account credit. With ``payment_method`` it is money the client paid in
    (a Payment without an invoice); without, a goodwill credit."""
    key = _key_check(idempotency_key)
    money = money_input(amount, currency=tenant_currency(), what="The credit")
    client = client_lock(client)
    existing = LedgerEntry.objects.filter(idempotency_key=f"credit-added:{key}").first()
    if existing is not None:
        if existing.client_id != client.pk or existing.money != -money:
            raise BillingError("This idempotency key was already used for another credit.")
        return existing
    payment = None
    if payment_method is not None:
        if payment_method not in RECORDABLE_METHODS:
            raise BillingError(f"“{payment_method}” is not a payment method here.")
        payment = Payment.objects.create(
            client=client,
            method=payment_method,
            gateway=gateway,
            gateway_reference=gateway_reference,
            currency=money.currency,
            amount=money.amount,
            received_at=received_at or timezone.now(),
            note=description[:500],
            idempotency_key=key,
        )
    return ledger_entry_append(
        client=client,
        kind=LedgerEntry.Kind.CREDIT_ADDED,
        amount=-money,
        payment=payment,
        description=description,
        idempotency_key=f"credit-added:{key}",
    )


@transaction.atomic
def credit_apply(
    *, invoice: Invoice, amount: Money | None = None, idempotency_key: str | None = None
) -> Payment:
    """Pays (part of) an invoice from the client's account credit: by default as much
    as both the credit and the amount due allow."""
    client = client_lock(invoice.client)
    invoice = invoice_lock(invoice)
    if idempotency_key:
        existing = Payment.objects.filter(idempotency_key=_key_check(idempotency_key)).first()
        if existing is not None:
            if existing.invoice_id != invoice.pk:
                raise BillingError("This idempotency key was already used for another payment.")
            return existing
    _payable(invoice)
    available = client_credit(client=client)
    if amount is None:
        money = min(available, invoice.amount_due)
        if money.amount <= 0:
            raise BillingError(f"{client} has no account credit.")
    else:
        money = money_input(amount, currency=invoice.currency, what="The credit to apply")
    if money > available:
        raise BillingError(f"{client} has {available} of account credit, less than {money}.")
    if money > invoice.amount_due:
        raise BillingError(f"{money} is more than the {invoice.amount_due} due on {invoice}.")
    payment = Payment.objects.create(
        client=client,
        invoice=invoice,
        method=Payment.Method.ACCOUNT_CREDIT,
        currency=money.currency,
        amount=money.amount,
        received_at=timezone.now(),
        idempotency_key=idempotency_key or None,
    )
    # One entry moves the money off the credit, the other onto the invoice: the balance
    # does not change, the two sub-balances do.
    ledger_entry_append(
        client=client,
        kind=LedgerEntry.Kind.CREDIT_APPLIED,
        amount=money,
        payment=payment,
        description=f"Credit applied to invoice {invoice.number}",
        idempotency_key=f"credit-applied:{payment.public_id}",
    )
    ledger_entry_append(
        client=client,
        kind=LedgerEntry.Kind.PAYMENT,
        amount=-money,
        invoice=invoice,
        payment=payment,
        description=f"Invoice {invoice.number} paid from account credit",
        idempotency_key=f"payment:{payment.public_id}",
    )
    invoice.paid_amount += money.amount
    invoice.save(update_fields=["paid_amount", "updated_at"])
    invoice_status_refresh(invoice=invoice)
    return payment


def refund_book(
    *,
    payment: Payment,
    invoice: Invoice | None,
    money: Money,
    to_credit: bool,
    reason: str,
    idempotency_key: str | None,
    gateway_reference: str = "",
    credit_note=None,
) -> Refund:
    """Books a refund of part of a payment, for payment_refund and for a credit note that
    gives money back. The caller holds the client, the invoice and the payment locks and
    has checked the amount."""
    refund = Refund.objects.create(
        payment=payment,
        currency=money.currency,
        amount=money.amount,
        to_credit=to_credit,
        gateway_reference=gateway_reference,
        reason=reason[:500],
        idempotency_key=idempotency_key,
    )
    payment.refunded_amount += money.amount
    payment.save(update_fields=["refunded_amount"])
    label = f"invoice {invoice.number}" if invoice else "account credit"
    ledger_entry_append(
        client=payment.client,
        kind=LedgerEntry.Kind.REFUND,
        amount=money,
        invoice=invoice,
        payment=payment,
        refund=refund,
        credit_note=credit_note,
        description=f"Refund on {label}" + (" to account credit" if to_credit else ""),
        idempotency_key=f"refund:{refund.public_id}",
    )
    if to_credit:
        ledger_entry_append(
            client=payment.client,
            kind=LedgerEntry.Kind.CREDIT_ADDED,
            amount=-money,
            refund=refund,
            credit_note=credit_note,
            description=f"Refund on {label} kept as account credit",
            idempotency_key=f"refund-credit:{refund.public_id}",
        )
    if invoice is not None:
        invoice.paid_amount -= money.amount
        invoice.save(update_fields=["paid_amount", "updated_at"])
    return refund


@transaction.atomic
def payment_refund(
    *,
    payment: Payment,
    amount: Money,
    idempotency_key: str,
    to_credit: bool = False,
    reason: str = "",
    gateway_reference: str = "",
) -> Refund:
    """Gives back (part of) a payment: to the client (the gateway or a bank transfer
    does the moving; this records it) or to its account credit. A refunded invoice is
    due again: to annul what was sold, issue a credit note."""
    key = _key_check(idempotency_key)
    client_lock(payment.client)
    invoice = invoice_lock(payment.invoice) if payment.invoice_id else None
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    existing = Refund.objects.filter(idempotency_key=key).first()
    if existing is not None:
        if existing.payment_id != payment.pk:
            raise BillingError("This idempotency key was already used for another refund.")
        return existing
    money = money_input(amount, currency=payment.currency, what="The refund")
    refundable = payment.money - payment.refunded
    if money > refundable:
        raise BillingError(f"At most {refundable} of this payment can still be refunded.")
    if payment.method == Payment.Method.ACCOUNT_CREDIT:
        # Credit that paid an invoice can only go back to where it came from.
        to_credit = True
    if invoice is None:
        if to_credit:
            raise BillingError("This payment is account credit already.")
        available = client_credit(client=payment.client)
        if money > available:
            raise BillingError(
                f"Only {available} of account credit is left to refund from this payment."
            )
    refund = refund_book(
        payment=payment,
        invoice=invoice,
        money=money,
        to_credit=to_credit,
        reason=reason,
        idempotency_key=key,
        gateway_reference=gateway_reference,
    )
    if invoice is not None:
        invoice_status_refresh(invoice=invoice)
    return refund
