"""The e-mails of card payments: to the client (authenticate a payment, an automatic
charge failed), to the tenant's staff (a dispute, money that could not be applied).

Texts live in ``templates/billing/payments/emails/<kind>_subject.txt`` and
``<kind>_body.txt`` and go out in the tenant's name and layout (``billing.emails``), in
the client's language. Every e-mail is sent once the transaction that decided it has
committed, and a failing mail server never undoes a payment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from email.utils import formataddr
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction

from accounts.models import User
from billing import documents, emails
from core.locale import money_format

logger = logging.getLogger(__name__)

FOLDER = "billing/payments/emails"
CLIENT_KINDS = {"payment_action_required", "autocharge_failed"}
STAFF_KINDS = {"dispute_opened", "payment_unapplied"}


def _send(
    kind: str, *, to: list[str], seller: emails.Seller, context: dict, language: str
) -> EmailMultiAlternatives:
    # A client's e-mail in the tenant's own text when it wrote one; staff get the
    # built-in text.
    override = emails.email_override_get(kind, language) if kind in CLIENT_KINDS else None
    rendered = emails.email_render(
        kind, context, language=language, override=override, folder=FOLDER
    )
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=seller.sender.header,
        to=to,
        reply_to=[seller.sender.address],
        headers={"Auto-Submitted": "auto-generated", "Content-Language": language},
    )
    message.attach_alternative(rendered.html, "text/html")
    message.send()
    return message


def client_email_send(
    kind: str, *, client: Any, context: Callable[[str], dict[str, Any]]
) -> EmailMultiAlternatives | None:
    """``context(language)`` gives the e-mail's values written for the client's language."""
    if kind not in CLIENT_KINDS:
        raise ValueError(f"Unknown client payment e-mail “{kind}”.")
    if not client.email:
        logger.warning("No e-mail address for client %s: %s not sent", client.pk, kind)
        return None
    seller = emails.seller_get()
    language = emails.client_language(client, seller)
    full = {**emails.email_layout_context(seller), "client_name": client.name, **context(language)}
    return _send(kind, to=[client.email], seller=seller, context=full, language=language)


def staff_email_send(kind: str, *, context: dict[str, Any]) -> EmailMultiAlternatives | None:
    """To the tenant's owners, admins and billing staff."""

    if kind not in STAFF_KINDS:
        raise ValueError(f"Unknown staff payment e-mail “{kind}”.")
    recipients = sorted(
        User.objects.filter(
            kind=User.Kind.STAFF,
            is_active=True,
            role__in=[User.Role.OWNER, User.Role.ADMIN, User.Role.BILLING],
        ).values_list("email", flat=True)
    )
    if not recipients:
        return None
    seller = emails.seller_get()
    return _send(
        kind,
        to=recipients,
        seller=seller,
        context={**emails.email_layout_context(seller), **context},
        language=seller.default_language,
    )


def plain_email_send(
    *, to: list[str], subject: str, body: str, from_name: str = ""
) -> EmailMultiAlternatives | None:
    """A plain message where no tenant's layout applies (the provider to a reseller)."""

    recipients = [address for address in to if address]
    if not recipients:
        return None
    sender = settings.DEFAULT_FROM_EMAIL
    message = EmailMultiAlternatives(
        subject=subject,
        body=body,
        from_email=formataddr((from_name, sender)) if from_name else sender,
        to=recipients,
        headers={"Auto-Submitted": "auto-generated"},
    )
    message.send()
    return message


def after_commit(send: Callable[[], Any]) -> None:
    """Runs ``send`` once the current transaction commits; a failure is logged only."""

    def run() -> None:
        try:
            send()
        except Exception:
            logger.exception("A payment e-mail could not be sent")

    transaction.on_commit(run)


def money_text(money: Any, language: str) -> str:
    return money_format(money, language)


def date_text(value: Any, language: str) -> str:
    return documents.date_format(value, language)
