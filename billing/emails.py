"""The e-mails a tenant sends its clients.

Each e-mail goes out in the tenant's name, from the sender in its billing settings, in
the client's language. Its subject and body are Django templates under
``templates/billing/emails/`` (``<kind>_subject.txt``, ``<kind>_body.txt``); the HTML
part is the same body text laid out, so the two never tell different stories. A tenant
may replace the subject and body of a kind with its own text (``EmailOverride``), which
is rendered with the same plain context of strings.

Nothing here names the platform or the provider: the client only knows the tenant.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import formataddr
from enum import StrEnum
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.mail import EmailMultiAlternatives
from django.db import connection, transaction
from django.template import Context, Template, TemplateSyntaxError, engines
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.html import linebreaks, urlize
from django.utils.safestring import mark_safe
from django.utils.text import get_valid_filename

from billing import documents
from billing.events import (
    InvoiceEventKind,
    ServiceEventKind,
    invoice_event_listeners,
    service_event_listeners,
)
from billing.models import Invoice
from billing.selectors import billing_settings_get
from billing.services.invoice_status import SUSPENSION_OVERDUE
from core.hosts import portal_url_for
from core.locale import money_format
from tenants.models import Tenant

logger = logging.getLogger(__name__)


class EmailKind(StrEnum):
    INVOICE_ISSUED = "invoice_issued"
    PAYMENT_RECEIVED = "payment_received"
    PAYMENT_REMINDER = "payment_reminder"
    INVOICE_OVERDUE = "invoice_overdue"
    SERVICE_SUSPENDED = "service_suspended"
    SERVICE_ACTIVATED = "service_activated"


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
    return Seller(
        name=legal_name,
        address_lines=tuple(billing.address_lines) if billing else (),
        vat_number=billing.vat_number if billing else "",
        sender=Sender(name=from_name, address=from_address),
        accent_color=documents.accent_color_clean(
            getattr(billing, "document_accent_color", "") if billing else ""
        ),
        default_language=documents.document_language(default_language),
    )


def portal_url() -> str:
    """The root of the tenant's own site, where its clients sign in."""

    tenant = tenant_current()
    domain = tenant.primary_domain if tenant is not None else None
    return portal_url_for(domain.domain) if domain is not None else ""


def client_language(client: Any, seller: Seller) -> str:
    return documents.document_language(getattr(client, "language", "") or seller.default_language)


# Tags a tenant's own text may use: conditions and loops over the plain context. No
# {% load %}, {% include %}, {% debug %} and the like: a tenant's text only places the
# values it is given.
OVERRIDE_ALLOWED_TAGS = frozenset({"if", "elif", "else", "endif", "for", "empty", "endfor"})
_TAG_RE = re.compile(r"{%-?\s*(\w+)")


def email_override_validate(text: str) -> None:
    """Raises ValueError when a tenant's subject or body uses a tag it may not, or is
    not a valid template."""
    for tag in _TAG_RE.findall(text):
        if tag not in OVERRIDE_ALLOWED_TAGS:
            raise ValueError(f"The tag “{tag}” cannot be used in an e-mail text.")
    try:
        Template(text, engine=engines["django"].engine)
    except TemplateSyntaxError as exc:
        raise ValueError(str(exc)) from exc


def email_override_get(kind: EmailKind, language: str) -> EmailOverride | None:
    """The tenant's own text for ``kind``, if it wrote one: the one for ``language``
    first, then one written for every language (blank language)."""
    try:
        model = apps.get_model("billing", "EmailTemplate")
    except LookupError:
        return None
    rows = model.objects.filter(kind=str(kind), language__in=[language, ""])
    row = min(rows, key=lambda r: r.language != language, default=None)
    if row is None or not (row.subject.strip() or row.body.strip()):
        return None
    try:
        email_override_validate(row.subject)
        email_override_validate(row.body)
    except ValueError:
        # The client still gets the built-in text rather than nothing.
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
    ``folder`` of their own."""
    if override is not None:
        email_override_validate(override.subject)
        email_override_validate(override.body)
    with translation.override(language):
        engine = engines["django"].engine
        if override is not None and override.subject.strip():
            subject_template = Template(override.subject, engine=engine)
        else:
            subject_template = _builtin(f"{kind}_subject.txt", folder)
        if override is not None and override.body.strip():
            body_template = Template(override.body, engine=engine)
        else:
            body_template = _builtin(f"{kind}_body.txt", folder)
        # A subject is one line: a header with a newline in it is refused by Django.
        subject = " ".join(_render_text(subject_template, context).split())
        body = _render_text(body_template, context).strip()
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


def email_base_context(seller: Seller, client: Any) -> dict[str, Any]:
    """What every e-mail's layout reads: the tenant's name, address and colour, the
    addressee and the tenant's portal."""
    return {
        "seller_name": seller.name,
        "seller_address_lines": list(seller.address_lines),
        "seller_vat_number": seller.vat_number,
        "accent_color": seller.accent_color,
        "client_name": getattr(client, "name", "") or str(client),
        "portal_url": portal_url(),
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


def email_invoice_issued(invoice: Any, *, attach_pdf: bool = True) -> EmailMultiAlternatives | None:
    seller = seller_get()
    language = client_language(invoice.client, seller)
    return email_send(
        EmailKind.INVOICE_ISSUED,
        client=invoice.client,
        seller=seller,
        context=_invoice_context(invoice, language),
        attachments=_invoice_pdf_attachment(invoice) if attach_pdf else (),
    )


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
    seller = seller_get()
    language = client_language(invoice.client, seller)
    return email_send(
        EmailKind.PAYMENT_REMINDER,
        client=invoice.client,
        seller=seller,
        context=_invoice_context(invoice, language),
    )


def email_invoice_overdue(invoice: Any) -> EmailMultiAlternatives | None:
    seller = seller_get()
    language = client_language(invoice.client, seller)
    return email_send(
        EmailKind.INVOICE_OVERDUE,
        client=invoice.client,
        seller=seller,
        context=_invoice_context(invoice, language),
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
    return model.objects.select_related("client").filter(pk=object_id).first()


_SENDERS: dict[EmailKind, tuple[str, Any]] = {
    EmailKind.INVOICE_ISSUED: ("Invoice", email_invoice_issued),
    EmailKind.PAYMENT_RECEIVED: ("Payment", email_payment_received),
    EmailKind.PAYMENT_REMINDER: ("Invoice", email_payment_reminder),
    EmailKind.INVOICE_OVERDUE: ("Invoice", email_invoice_overdue),
    EmailKind.SERVICE_SUSPENDED: ("Service", _service_suspended_send),
    EmailKind.SERVICE_ACTIVATED: ("Service", email_service_activated),
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


# --- billing events ----------------------------------------------------------------


def on_invoice_event(event: Any) -> None:
    if event.kind == InvoiceEventKind.ISSUED:
        email_queue(EmailKind.INVOICE_ISSUED, event.invoice_id)


def on_service_event(event: Any) -> None:
    kind = {
        ServiceEventKind.ACTIVATED: EmailKind.SERVICE_ACTIVATED,
        ServiceEventKind.SUSPENDED: EmailKind.SERVICE_SUSPENDED,
    }.get(event.kind)
    if kind is not None:
        email_queue(kind, event.service_id)


def listeners_register() -> None:
    """Connects the client e-mails to the billing events (from BillingConfig.ready)."""

    if on_invoice_event not in invoice_event_listeners:
        invoice_event_listeners.append(on_invoice_event)
    if on_service_event not in service_event_listeners:
        service_event_listeners.append(on_service_event)
