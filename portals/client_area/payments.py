"""What a client needs to pay an invoice: the bank transfer details and reference, and
the card payment form when the site takes cards."""

from __future__ import annotations

from typing import Any

from django.urls import NoReverseMatch, reverse

from billing.models import Invoice
from billing.payments.flows import card_payments_available, invoice_payment_reference
from billing.selectors import billing_settings_get

# Where the client's "Pay by card" form posts: it takes the invoice's public id and sends
# the browser on to the card payment page Stripe hosts.
CARD_PAYMENT_URL_NAME = "account:invoice-card"


def card_payment_url(invoice: Invoice) -> str:
    """Empty while this site takes no card payments: the client sees bank details only."""

    if not card_payments_available():
        return ""
    try:
        return reverse(CARD_PAYMENT_URL_NAME, args=[invoice.public_id])
    except NoReverseMatch:
        return ""


def bank_transfer_reference(invoice: Invoice) -> str:
    return invoice_payment_reference(invoice)


def invoice_pay_context(invoice: Invoice) -> dict[str, Any]:
    """Bank details as printed on the invoice itself (its seller snapshot), so the page
    and the PDF never disagree; today's settings fill in what an old snapshot lacks."""
    bank = dict((invoice.seller or {}).get("bank") or {})
    if not bank.get("iban"):
        settings = billing_settings_get()
        bank = {
            "account_holder": settings.legal_name,
            "bank_name": settings.bank_name,
            "iban": settings.iban,
            "bic": settings.bic,
        }
    return {
        "invoice": invoice,
        "amount_due": invoice.amount_due,
        "bank": bank,
        "reference": bank_transfer_reference(invoice),
        "card_url": card_payment_url(invoice),
    }
