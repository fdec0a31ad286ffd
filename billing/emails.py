"""The e-mails a tenant sends its clients.

Each e-mail goes out in the tenant's name, from the sender in its billing settings, in
the client's language, under the tenant's logo and colour (its branding). Its subject
and body are Django templates under ``templates/billing/emails/`` (``<kind>_subject.txt``,
``<kind>_body.txt``); the HTML part is the same body text laid out, so the two never tell
different stories. A tenant may replace the subject and body of a kind, per language or
for every language, with its own text (an ``EmailTemplate`` row, ``EmailOverride`` here),
which ``billing.email_templates`` renders in its sandbox with the kind's plain values
only.

Nothing here names the platform or the provider: the client only knows the tenant.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from email.utils import formataddr
from enum import StrEnum
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.mail import EmailMultiAlternatives
from django.db import connection, transaction
from django.db.models.signals import post_save
from django.template import Context, Template, engines
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.html import linebreaks, urlize
from django.utils.safestring import mark_safe
from django.utils.text import get_valid_filename

from accounts.adapters import tenant_email_senders
from accounts.branding import branding_get, color_or_default
from accounts.mail import tenant_sender_sources
from billing import documents
from billing.email_templates import builtin_text, template_check, template_kind, template_render
from billing.events import (
    ClientEventKind,
    InvoiceEventKind,
    OrderEventKind,
    ServiceEventKind,
    client_event_listeners,
    invoice_event_listeners,
    order_event_listeners,
    service_event_listeners,
)
from billing.models import ClientUser, EmailTemplate, Invoice, Order, Payment
from billing.money import Money
from billing.selectors import billing_settings_get, client_for_user
from billing.services.invoice_status import SUSPENSION_OVERDUE
from core.hosts import portal_url_for
from core.locale import money_format
from tenants.models import Tenant

logger = logging.getLogger(__name__)


class EmailKind(StrEnum):
    ORDER_CONFIRMATION = "order_confirmation"
    INVOICE_ISSUED = "invoice_issued"
    PAYMENT_RECEIVED = "payment_received"
    PAYMENT_REMINDER = "payment_reminder"
    INVOICE_OVERDUE = "invoice_overdue"
    SERVICE_SUSPENDED = "service_suspended"
    SERVICE_ACTIVATED = "service_activated"
    CLIENT_WELCOME = "client_welcome"


# Who else at the client gets each kind besides the client's own address.
_INVOICE_KINDS = {
    EmailKind.INVOICE_ISSUED,
    EmailKind.PAYMENT_RECEIVED,
    EmailKind.PAYMENT_REMINDER,
    EmailKind.INVOICE_OVERDUE,
}


@dataclass(frozen=True)
class EmailOverride:
    """A tenant's own subject and body for one kind of e-mail (Django template syntax,
    the same variables as the built-in text)."""

    subject: str
    body: str


@dataclass(frozen=True)
class Sender:
    name: str
    address: str

    @property
    def header(self) -> str:
        return formataddr((self.name, self.address)) if self.name else self.address


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Seller:
    """The tenant as its e-mails show it: the sender and the footer."""

    name: str
    address_lines: tuple[str, ...]
    vat_number: str
    sender: Sender
    accent_color: str
    default_language: str
    logo_url: str = ""


def tenant_current() -> Any:
    """The tenant whose schema the connection is in (a task only knows the schema)."""

    tenant = getattr(connection, "tenant", None)
    if isinstance(tenant, Tenant):
        return tenant
    return Tenant.objects.filter(schema_name=connection.schema_name).first()


def seller_get() -> Seller:
    billing = billing_settings_get()
    tenant = tenant_current()
    tenant_name = tenant.name if tenant is not None else ""
    legal_name = (billing.legal_name if billing else "") or tenant_name
    from_name = (billing.email_from_name if billing else "") or legal_name
    # A tenant that has not set an address yet still sends, from the installation's
    # default address but under its own name.
    from_address = (billing.email_from_address if billing else "") or settings.DEFAULT_FROM_EMAIL
    default_language = (billing.default_language if billing else "") or (
        tenant.default_language if tenant is not None else ""
    )
    # The colour and logo of the tenant's site, so an e-mail looks like where it leads.
    branding = branding_get()
    return Seller(
        name=legal_name,
        address_lines=tuple(billing.address_lines) if billing else (),
        vat_number=billing.vat_number if billing else "",
        sender=Sender(name=from_name, address=from_address),
        accent_color=color_or_default(branding.brand_color),
        default_language=documents.document_language(default_language),
        logo_url=_logo_url(branding),
    )


def _logo_url(branding: Any) -> str:
    """The absolute address of the tenant's logo on its own host (an e-mail is read
    elsewhere), with its version so a mail client's cache never shows an old one."""
    if not branding.logo:
        return ""
    root = portal_url().rstrip("/")
    if not root:
        return ""
    try:
        path = reverse("shop:brand-asset", args=["logo"], urlconf="config.urls")
    except NoReverseMatch:
        return ""
    version = int(branding.updated_at.timestamp()) if branding.updated_at else 0
    return f"{root}{path}?v={version}"


def portal_url() -> str:
    """The root of the tenant's own site, where its clients sign in."""

    tenant = tenant_current()
    domain = tenant.primary_domain if tenant is not None else None
    return portal_url_for(domain.domain) if domain is not None else ""


def client_language(client: Any, seller: Seller) -> str:
    return documents.document_language(getattr(client, "language", "") or seller.default_language)


def email_override_validate(text: str, kind: str | None = None) -> None:
    """Raises ValueError when a tenant's subject or body is not a valid template of the
    sandbox (billing.email_templates), uses a tag or filter it may not, or, given the
    ``kind``, a value that kind does not offer."""
    try:
        template_check(text, kind=kind)
    except ValidationError as exc:
        raise ValueError(" ".join(exc.messages)) from exc


def email_override_get(kind: str, language: str) -> EmailOverride | None:
    """The tenant's own text for ``kind``, if it wrote one: the one for ``language``
    first, then one written for every language (blank language)."""
    rows = EmailTemplate.objects.filter(kind=str(kind), language__in=[language, ""])
    row = min(rows, key=lambda r: r.language != language, default=None)
    if row is None or not (row.subject.strip() or row.body.strip()):
        return None
    try:
        email_override_validate(row.subject, str(kind))
        email_override_validate(row.body, str(kind))
    except ValueError:
        # Checked when saved; a text an older rule let through gets the client the
        # built-in one rather than nothing.
        logger.exception("The %s text of schema %s is unusable", kind, connection.schema_name)
        return None
    return EmailOverride(subject=row.subject, body=row.body)


# --- rendering ---------------------------------------------------------------------


def _render_text(source: Template, context: dict[str, Any]) -> str:
    # Plain text: no HTML escaping. Every value in the context is a plain string.
    return source.render(Context(context, autoescape=False))


def _builtin(name: str, folder: str = "billing/emails") -> Template:
    return engines["django"].engine.get_template(f"{folder}/{name}")


def email_render(
    kind: str,
    context: dict[str, Any],
    *,
    language: str,
    override: EmailOverride | None = None,
    folder: str = "billing/emails",
) -> RenderedEmail:
    """Subject, text and HTML of one e-mail, in ``language``, in the tenant's layout.
    Other apps' e-mails (the support desk's) keep their subject and body templates in a
    ``folder`` of their own. An ``override`` (a tenant's text) runs in the sandbox of
    billing.email_templates with the kind's values only; ValidationError when it may
    not."""
    with translation.override(language):
        if override is not None and override.subject.strip():
            subject_text = template_render(override.subject, context, kind=str(kind))
        else:
            subject_text = _render_text(_builtin(f"{kind}_subject.txt", folder), context)
        if override is not None and override.body.strip():
            body = template_render(override.body, context, kind=str(kind))
        else:
            body = _render_text(_builtin(f"{kind}_body.txt", folder), context)
        # A subject is one line: a header with a newline in it is refused by Django.
        subject = " ".join(subject_text.split())
        body = body.strip()
        layout = {
            **context,
            "language": language,
            "subject": subject,
            "body_text": body,
            "body_html": mark_safe(linebreaks(urlize(body, autoescape=True))),  # noqa: S308
        }
        text = render_to_string("billing/emails/layout.txt", layout).strip() + "\n"
        html = render_to_string("billing/emails/layout.html", layout)
    return RenderedEmail(subject=subject, text=text, html=html)


def email_layout_context(seller: Seller) -> dict[str, Any]:
    """What every e-mail's layout reads: the tenant's name, address, colour and logo,
    and its portal."""
    return {
        "seller_name": seller.name,
        "seller_address_lines": list(seller.address_lines),
        "seller_vat_number": seller.vat_number,
        "accent_color": seller.accent_color,
        "logo_url": seller.logo_url,
        "portal_url": portal_url(),
    }


def email_base_context(seller: Seller, client: Any) -> dict[str, Any]:
    """The layout's values and the addressee's name."""
    return {
        **email_layout_context(seller),
        "client_name": getattr(client, "name", "") or str(client),
    }


def _recipients(client: Any, kind: EmailKind) -> tuple[list[str], list[str]]:
    to = [client.email] if getattr(client, "email", "") else []
    flag = "receives_invoices" if kind in _INVOICE_KINDS else "receives_technical"
    contacts = getattr(client, "contacts", None)
    cc = (
        sorted({c.email for c in contacts.filter(**{flag: True}) if c.email} - set(to))
        if contacts is not None
        else []
    )
    return to, cc


def email_send(
    kind: EmailKind,
    *,
    client: Any,
    context: dict[str, Any],
    seller: Seller | None = None,
    attachments: Sequence[tuple[str, bytes, str]] = (),
) -> EmailMultiAlternatives | None:
    """Renders ``kind`` for ``client`` in the client's language and sends it through
    Django's e-mail backend. Returns the message, or None when the client has no
    address to write to."""
    seller = seller or seller_get()
    language = client_language(client, seller)
    to, cc = _recipients(client, kind)
    if not to:
        logger.warning("No e-mail address for client %s: %s not sent", client.pk, kind)
        return None
    full_context = {**email_base_context(seller, client), **context}
    rendered = email_render(
        kind, full_context, language=language, override=email_override_get(kind, language)
    )
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=seller.sender.header,
        to=to,
        cc=cc,
        reply_to=[seller.sender.address],
        headers={
            # RFC 3834: an automatic message, so auto-responders do not answer it.
            "Auto-Submitted": "auto-generated",
            "Content-Language": language,
        },
    )
    message.attach_alternative(rendered.html, "text/html")
    for filename, content, mimetype in attachments:
        message.attach(filename, content, mimetype)
    message.send()
    return message


# --- one function per e-mail ------------------------------------------------------


def _invoice_context(invoice: Any, language: str) -> dict[str, Any]:
    return {
        "invoice_number": invoice.number,
        "issue_date": documents.date_format(invoice.issue_date, language),
        "due_date": documents.date_format(invoice.due_date, language),
        "total": money_format(invoice.total, language),
        "amount_due": (
            money_format(invoice.amount_due, language) if invoice.amount_due.amount > 0 else ""
        ),
    }


def _invoice_pdf_attachment(invoice: Any) -> list[tuple[str, bytes, str]]:
    """The invoice's stored PDF, when it has been rendered: the e-mail does not wait
    for a rendering (``email_invoice_issued_task`` renders first)."""
    name = invoice.pdf_file.name if invoice.pdf_file else ""
    if not name or not default_storage.exists(name):
        return []
    with default_storage.open(name, "rb") as handle:
        content = handle.read()
    filename = get_valid_filename(f"{invoice.number.replace('/', '-')}.pdf")
    return [(filename, content, "application/pdf")]


def _invoice_email(
    kind: EmailKind, invoice: Any, attachments: Sequence[tuple[str, bytes, str]] = ()
) -> EmailMultiAlternatives | None:
    """An e-mail about one invoice, its figures written in the client's language."""
    seller = seller_get()
    language = client_language(invoice.client, seller)
    return email_send(
        kind,
        client=invoice.client,
        seller=seller,
        context=_invoice_context(invoice, language),
        attachments=attachments,
    )


def email_invoice_issued(invoice: Any, *, attach_pdf: bool = True) -> EmailMultiAlternatives | None:
    attachments = _invoice_pdf_attachment(invoice) if attach_pdf else ()
    return _invoice_email(EmailKind.INVOICE_ISSUED, invoice, attachments)


def email_payment_received(payment: Any) -> EmailMultiAlternatives | None:
    seller = seller_get()
    language = client_language(payment.client, seller)
    context: dict[str, Any] = {
        "payment_amount": money_format(payment.money, language),
        "payment_date": documents.date_format(payment.received_at, language),
        "invoice_number": "",
        "amount_due": "",
    }
    if payment.invoice_id:
        context.update(_invoice_context(payment.invoice, language))
    return email_send(
        EmailKind.PAYMENT_RECEIVED, client=payment.client, seller=seller, context=context
    )


def email_payment_reminder(invoice: Any) -> EmailMultiAlternatives | None:
    return _invoice_email(EmailKind.PAYMENT_REMINDER, invoice)


def email_invoice_overdue(invoice: Any) -> EmailMultiAlternatives | None:
    return _invoice_email(EmailKind.INVOICE_OVERDUE, invoice)


def _order_context(order: Order, language: str) -> dict[str, Any]:
    lines = []
    for item in order.items.all():
        quantity = f"{item.quantity} × " if item.quantity != 1 else ""
        lines.append(f"- {quantity}{item.description}: {money_format(item.price, language)}")
    invoice = order.invoice
    return {
        "order_date": documents.date_format(order.created_at, language),
        "order_items": "\n".join(lines),
        "order_total": money_format(order.total, language),
        "invoice_number": invoice.number if invoice is not None else "",
        "amount_due": (
            money_format(invoice.amount_due, language)
            if invoice is not None and invoice.amount_due.amount > 0
            else ""
        ),
    }


def email_order_confirmation(order: Order) -> EmailMultiAlternatives | None:
    """What the client ordered, once the order is placed."""
    seller = seller_get()
    language = client_language(order.client, seller)
    return email_send(
        EmailKind.ORDER_CONFIRMATION,
        client=order.client,
        seller=seller,
        context=_order_context(order, language),
    )


def _service_context(service: Any) -> dict[str, Any]:
    plan = getattr(service, "plan", None)
    return {
        "service_name": service.label or service.domain_name or (plan.name if plan else ""),
        "service_domain": service.domain_name,
    }


def email_service_suspended(
    service: Any, *, invoice: Any | None = None
) -> EmailMultiAlternatives | None:
    """``invoice`` is the unpaid invoice behind the suspension, when there is one."""
    seller = seller_get()
    language = client_language(service.client, seller)
    reason = service.suspension_reason
    context = {
        **_service_context(service),
        # The billing run's own reason is a code, not words for the client.
        "reason": "" if invoice is not None or reason == SUSPENSION_OVERDUE else reason,
        "invoice_number": "",
        "amount_due": "",
    }
    if invoice is not None:
        context.update(_invoice_context(invoice, language))
    return email_send(
        EmailKind.SERVICE_SUSPENDED, client=service.client, seller=seller, context=context
    )


def email_service_activated(service: Any) -> EmailMultiAlternatives | None:
    """The welcome e-mail, once the service is live."""
    return email_send(
        EmailKind.SERVICE_ACTIVATED, client=service.client, context=_service_context(service)
    )


def email_client_welcome(client: Any) -> EmailMultiAlternatives | None:
    """The welcome to a new client account: where to sign in and with which address
    (the login's own, which is the one the client signed up with; never a password)."""
    owner = (
        ClientUser.objects.filter(client=client, role=ClientUser.Role.OWNER)
        .select_related("user")
        .order_by("pk")
        .first()
    )
    login_email = owner.user.email if owner is not None else client.email
    return email_send(
        EmailKind.CLIENT_WELCOME,
        client=client,
        context={"login_email": login_email, "login_url": _login_url()},
    )


def _login_url() -> str:
    """The tenant's sign-in page on its own host (the tenant's URLs, as a worker has no
    request to take them from)."""
    root = portal_url().rstrip("/")
    try:
        path = reverse("account_login", urlconf="config.urls")
    except NoReverseMatch:
        return root
    return f"{root}{path}"


def _service_suspended_send(service: Any) -> EmailMultiAlternatives | None:
    """The suspension e-mail, naming the overdue invoice when non-payment is the
    reason."""

    invoice = None
    if service.suspension_reason == SUSPENSION_OVERDUE:
        invoice = (
            Invoice.objects.filter(status=Invoice.Status.OVERDUE, lines__service=service)
            .order_by("due_date", "pk")
            .first()
        )
    return email_service_suspended(service, invoice=invoice)


def _row(model_name: str, object_id: int) -> Any:
    model = apps.get_model("billing", model_name)
    rows = model.objects if model_name == "Client" else model.objects.select_related("client")
    return rows.filter(pk=object_id).first()


_SENDERS: dict[EmailKind, tuple[str, Any]] = {
    EmailKind.ORDER_CONFIRMATION: ("Order", email_order_confirmation),
    EmailKind.INVOICE_ISSUED: ("Invoice", email_invoice_issued),
    EmailKind.PAYMENT_RECEIVED: ("Payment", email_payment_received),
    EmailKind.PAYMENT_REMINDER: ("Invoice", email_payment_reminder),
    EmailKind.INVOICE_OVERDUE: ("Invoice", email_invoice_overdue),
    EmailKind.SERVICE_SUSPENDED: ("Service", _service_suspended_send),
    EmailKind.SERVICE_ACTIVATED: ("Service", email_service_activated),
    EmailKind.CLIENT_WELCOME: ("Client", email_client_welcome),
}


_STALE_UNLESS: dict[EmailKind, Any] = {
    EmailKind.PAYMENT_REMINDER: lambda invoice: invoice.is_open,
    EmailKind.INVOICE_OVERDUE: lambda invoice: invoice.is_open,
    EmailKind.SERVICE_SUSPENDED: lambda service: service.status == service.Status.SUSPENDED,
}


def email_send_for(kind: EmailKind, object_id: int) -> EmailMultiAlternatives | None:
    """Loads the row ``kind`` is about and sends the e-mail (what the task runs)."""
    model_name, send = _SENDERS[kind]
    row = _row(model_name, object_id)
    if row is None:
        logger.error("%s %s not found in schema %s", model_name, object_id, connection.schema_name)
        return None
    if kind in _STALE_UNLESS and not _STALE_UNLESS[kind](row):
        # Paid or unsuspended between the queueing and now: the news is stale.
        logger.info("%s for %s %s skipped: no longer true", kind, model_name, object_id)
        return None
    if kind == EmailKind.INVOICE_ISSUED:
        # On a worker, so the PDF can be rendered here and go with the e-mail.
        documents.invoice_pdf_render(row)
    return send(row)


def email_queue(kind: EmailKind, object_id: int) -> None:
    """Sends e-mail ``kind`` about the row ``object_id`` from a worker once the current
    transaction commits: a request never waits for the mail server (or for a PDF)."""
    # billing.tasks imports this module; the task is looked up at call time.
    from billing.tasks import email_send_task

    schema = connection.schema_name
    transaction.on_commit(
        lambda: email_send_task.apply_async(
            args=[str(kind), object_id], headers={"_schema_name": schema}
        )
    )


# --- account e-mails ----------------------------------------------------------------


def email_password_reset(*, user: Any, email: str, reset_url: str) -> EmailMultiAlternatives:
    """The password reset link (accounts' sign-in pages ask for it), under the tenant's
    brand and sender, in the person's language: a client's billing record's, else its
    account's, else the tenant's."""
    seller = seller_get()
    client = client_for_user(user=user) if getattr(user, "kind", "") == "client" else None
    language = documents.document_language(
        (client.language if client is not None else "")
        or getattr(user, "language", "")
        or seller.default_language
    )
    name = (client.name if client is not None else "") or getattr(user, "full_name", "") or email
    context = {
        **email_layout_context(seller),
        "client_name": name,
        "reset_url": reset_url,
    }
    kind = "password_reset"
    rendered = email_render(
        kind, context, language=language, override=email_override_get(kind, language)
    )
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=seller.sender.header,
        to=[email],
        reply_to=[seller.sender.address],
        headers={"Auto-Submitted": "auto-generated", "Content-Language": language},
    )
    message.attach_alternative(rendered.html, "text/html")
    message.send()
    return message


PASSWORD_RESET_PREFIX = "account/email/password_reset_key"


def _sender_header() -> str:
    return seller_get().sender.header


def _password_reset_from_accounts(email: str, context: dict[str, Any]) -> None:
    email_password_reset(
        user=context.get("user"), email=email, reset_url=context["password_reset_url"]
    )


# --- the editor's preview and test ----------------------------------------------------


def _sample(variable: Any, *, language: str, currency: str, root: str) -> Any:
    if variable.sample_kind == "money":
        return money_format(Money(Decimal("122.00"), currency), language)
    if variable.sample_kind == "date":
        return documents.date_format(timezone.localdate(), language)
    if variable.sample_kind == "url":
        return f"{root}/account/" if root else "/account/"
    return str(variable.sample)


def email_sample_context(kind: str, *, language: str, seller: Seller) -> dict[str, Any]:
    """Made-up values for every variable of ``kind``, with the tenant's own name,
    address, colour and logo, to preview a text."""
    billing = billing_settings_get()
    currency = (billing.currency if billing else "") or "EUR"
    layout = email_layout_context(seller)
    root = layout["portal_url"].rstrip("/")
    with translation.override(language):
        values = {
            v.name: _sample(v, language=language, currency=currency, root=root)
            for v in template_kind(kind).variables
        }
    # The tenant's own name, address, colour, logo and portal, not made-up ones.
    values.update({k: v for k, v in layout.items() if v or k not in values})
    return values


def email_preview(
    kind: str, *, language: str, subject: str, body: str, seller: Seller | None = None
) -> RenderedEmail:
    """``subject`` and ``body`` rendered as a client would get them, with sample values;
    ValidationError when the text may not be used."""
    seller = seller or seller_get()
    language = language or seller.default_language
    template_check(subject, kind=kind)
    template_check(body, kind=kind)
    context = email_sample_context(kind, language=language, seller=seller)
    return email_render(
        kind,
        context,
        language=language,
        override=EmailOverride(subject=subject, body=body),
        folder=template_kind(kind).folder,
    )


def email_test_send(
    kind: str, *, language: str, subject: str, body: str, to: str
) -> EmailMultiAlternatives:
    """The preview, sent to ``to`` (the staff member trying the text) from the tenant's
    sender, its subject marked as a test."""
    seller = seller_get()
    rendered = email_preview(kind, language=language, subject=subject, body=body, seller=seller)
    message = EmailMultiAlternatives(
        subject=f"[TEST] {rendered.subject}",
        body=rendered.text,
        from_email=seller.sender.header,
        to=[to],
        reply_to=[seller.sender.address],
        headers={"Auto-Submitted": "auto-generated"},
    )
    message.attach_alternative(rendered.html, "text/html")
    message.send()
    return message


def email_default_text(kind: str, language: str) -> tuple[str, str]:
    """The built-in subject and body in ``language`` (the tenant's default language for
    a text written for every language), as the editor starts from."""
    return builtin_text(kind, language or seller_get().default_language)


# --- billing events ----------------------------------------------------------------


def on_invoice_event(event: Any) -> None:
    if event.kind == InvoiceEventKind.ISSUED:
        email_queue(EmailKind.INVOICE_ISSUED, event.invoice_id)


def on_order_event(event: Any) -> None:
    if event.kind == OrderEventKind.PLACED:
        email_queue(EmailKind.ORDER_CONFIRMATION, event.order_id)


def on_service_event(event: Any) -> None:
    kind = {
        ServiceEventKind.ACTIVATED: EmailKind.SERVICE_ACTIVATED,
        ServiceEventKind.SUSPENDED: EmailKind.SERVICE_SUSPENDED,
    }.get(event.kind)
    if kind is not None:
        email_queue(kind, event.service_id)


def on_client_event(event: Any) -> None:
    if event.kind == ClientEventKind.SIGNED_UP:
        email_queue(EmailKind.CLIENT_WELCOME, event.client_id)


def on_payment_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    """A receipt for money the client paid: every new payment but account credit moved
    onto an invoice, which is no money received (the client was told when it came in)."""
    if created and instance.method != Payment.Method.ACCOUNT_CREDIT:
        email_queue(EmailKind.PAYMENT_RECEIVED, instance.pk)


def listeners_register() -> None:
    """Connects the client e-mails to the billing events (from BillingConfig.ready)."""

    post_save.connect(on_payment_saved, sender=Payment, dispatch_uid="emails.payment_received")

    if on_invoice_event not in invoice_event_listeners:
        invoice_event_listeners.append(on_invoice_event)
    if on_service_event not in service_event_listeners:
        service_event_listeners.append(on_service_event)
    if on_order_event not in order_event_listeners:
        order_event_listeners.append(on_order_event)
    if on_client_event not in client_event_listeners:
        client_event_listeners.append(on_client_event)
    # The password reset link goes out in the tenant's text, layout and sender.
    tenant_email_senders[PASSWORD_RESET_PREFIX] = _password_reset_from_accounts
    # Staff invitations and allauth's notices come from the tenant's sender too.
    if _sender_header not in tenant_sender_sources:
        tenant_sender_sources.append(_sender_header)
