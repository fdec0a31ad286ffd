"""Client e-mails: from the tenant's own sender, in the client's language, never with
the platform's name or another tenant's."""

from __future__ import annotations

import io
import time

import pytest
from django.conf import settings
from django.db import connection
from django_tenants.utils import schema_context, tenant_context
from pypdf import PdfReader

from billing import documents, emails, services
from billing.emails import EmailKind, EmailOverride
from billing.models import Invoice
from billing.tasks import billing_run_task, email_send_task, invoices_notify_task
from tests.billing.conftest import eur, flat, html_part


@pytest.fixture
def seller(shop):
    services.billing_settings_update(email_from_name="Alfa Fatturazione")
    return shop


def client_in(language: str, **fields):
    return services.client_create(
        name=fields.pop("name", "Giulia Bianchi"),
        email=fields.pop("email", f"giulia.{language}@example.test"),
        country="IT",
        language=language,
        **fields,
    )


def invoice_issue(client, amount: str = "100.00") -> Invoice:
    invoice = services.invoice_create(client=client)
    services.invoice_line_add(
        invoice=invoice, description="Web hosting Pro", unit_price=eur(amount)
    )
    return services.invoice_issue(invoice=invoice)


def service_live(shop, client):
    service = services.service_create(
        client=client, plan=shop.starter, cycle="monthly", domain_name="bianchi.example"
    )
    return services.service_activate(service=service)


def test_invoice_issued_goes_from_the_tenants_sender_in_the_clients_language(
    seller, tenant_a, tenant_b, mailoutbox, media_root
):
    client = client_in("it")
    invoice = invoice_issue(client)
    documents.invoice_pdf_render(invoice)
    invoice.refresh_from_db()

    message = emails.email_invoice_issued(invoice)

    (sent,) = mailoutbox
    assert sent.subject == message.subject
    assert message.from_email == "Alfa Fatturazione <billing@alpha.test>"
    assert message.reply_to == ["billing@alpha.test"]
    assert message.to == ["giulia.it@example.test"]
    assert message.extra_headers["Auto-Submitted"] == "auto-generated"
    assert message.subject == f"Fattura {invoice.number} da Alfa Servizi Internet S.r.l."
    body = flat(message.body)
    assert "Gentile Giulia Bianchi," in body
    assert "122,00 €" in body, "22 % Italian VAT on 100.00, formatted for Italian"
    assert "Cordiali saluti, Alfa Servizi Internet S.r.l." in body
    assert f"http://{tenant_a.host}:8000/" in body, "the tenant's own site"
    html = flat(html_part(message))
    assert "Gentile Giulia Bianchi," in html
    assert f'href="http://{tenant_a.host}:8000/"' in html
    assert "Partita IVA IT01234567890" in html
    (filename, content, mimetype) = message.attachments[0]
    assert (filename, mimetype) == (f"{invoice.number.replace('/', '-')}.pdf", "application/pdf")
    assert invoice.number in PdfReader(io.BytesIO(content)).pages[0].extract_text()
    everything = f"{message.from_email} {message.subject} {message.body} {html}"
    for foreign in (settings.PLATFORM_NAME, tenant_b.tenant.name, "beta"):
        assert foreign.lower() not in everything.lower()


def _all_kinds(shop, client) -> dict[EmailKind, object]:
    """Sends one e-mail of every kind to ``client`` and returns them by kind."""
    invoice = invoice_issue(client, "1234.56")
    payment = services.payment_record(
        invoice=invoice, amount=eur("500.00"), method="bank_transfer", idempotency_key="pay-1"
    )
    service = service_live(shop, client)
    suspended = services.service_suspend(service=service, reason="Abuse report")
    cart = services.cart_create(client=client)
    services.cart_item_add(cart=cart, plan=shop.pro, cycle="monthly")
    order = services.checkout_place(cart=cart, client=client)
    return {
        EmailKind.ORDER_CONFIRMATION: emails.email_order_confirmation(order),
        EmailKind.INVOICE_ISSUED: emails.email_invoice_issued(invoice),
        EmailKind.PAYMENT_RECEIVED: emails.email_payment_received(payment),
        EmailKind.PAYMENT_REMINDER: emails.email_payment_reminder(invoice),
        EmailKind.INVOICE_OVERDUE: emails.email_invoice_overdue(invoice),
        EmailKind.SERVICE_SUSPENDED: emails.email_service_suspended(suspended),
        EmailKind.SERVICE_ACTIVATED: emails.email_service_activated(service),
        EmailKind.CLIENT_WELCOME: emails.email_client_welcome(client),
    }


# A phrase of each kind's subject and body, per language.
EXPECTED = {
    "en": {
        EmailKind.ORDER_CONFIRMATION: ("Your order at", "thank you for your order of"),
        EmailKind.INVOICE_ISSUED: ("Invoice ", "We have issued invoice"),
        EmailKind.PAYMENT_RECEIVED: ("Payment received", "received your payment of €500.00"),
        EmailKind.PAYMENT_REMINDER: ("Reminder:", "friendly reminder"),
        EmailKind.INVOICE_OVERDUE: ("Overdue:", "is still unpaid"),
        EmailKind.SERVICE_SUSPENDED: ("has been suspended", "Reason: Abuse report"),
        EmailKind.SERVICE_ACTIVATED: ("Welcome", "is now active"),
        EmailKind.CLIENT_WELCOME: ("Welcome to", "your client account is ready"),
    },
    "it": {
        EmailKind.ORDER_CONFIRMATION: ("Il suo ordine presso", "grazie per il suo ordine del"),
        EmailKind.INVOICE_ISSUED: ("Fattura ", "abbiamo emesso la fattura"),
        EmailKind.PAYMENT_RECEIVED: ("Pagamento ricevuto", "pagamento di 500,00 €"),
        EmailKind.PAYMENT_REMINDER: ("Promemoria:", "le ricordiamo"),
        EmailKind.INVOICE_OVERDUE: ("scaduta", "risulta ancora da pagare"),
        EmailKind.SERVICE_SUSPENDED: ("è stato sospeso", "Motivo: Abuse report"),
        EmailKind.SERVICE_ACTIVATED: ("Benvenuto", "è ora attivo"),
        EmailKind.CLIENT_WELCOME: ("Benvenuto in", "il suo account cliente è pronto"),
    },
    "ru": {
        EmailKind.ORDER_CONFIRMATION: ("Ваш заказ в", "благодарим вас за заказ от"),
        EmailKind.INVOICE_ISSUED: ("Счёт ", "Мы выставили счёт"),
        EmailKind.PAYMENT_RECEIVED: ("Получен платёж", "платёж на сумму 500,00 €"),
        EmailKind.PAYMENT_REMINDER: ("Напоминание:", "Напоминаем"),
        EmailKind.INVOICE_OVERDUE: ("Просрочен", "до сих пор не оплачен"),
        EmailKind.SERVICE_SUSPENDED: ("приостановлена", "Причина: Abuse report"),
        EmailKind.SERVICE_ACTIVATED: ("Добро пожаловать", "активирована"),
        EmailKind.CLIENT_WELCOME: ("Добро пожаловать в", "учётная запись клиента готова"),
    },
}


@pytest.mark.parametrize("language", ["en", "it", "ru"])
def test_every_email_in_every_language(seller, tenant_b, language, mailoutbox, media_root):
    client = client_in(language)

    sent = _all_kinds(seller, client)

    assert len(mailoutbox) == len(EmailKind)
    for kind, (subject_part, body_part) in EXPECTED[language].items():
        message = sent[kind]
        assert message.from_email == "Alfa Fatturazione <billing@alpha.test>", kind
        assert message.extra_headers["Content-Language"] == language
        assert subject_part in message.subject, (kind, message.subject)
        assert body_part in flat(message.body), (kind, message.body)
        assert body_part in flat(html_part(message)), kind
        assert "\n" not in message.subject
        everything = f"{message.subject} {message.body} {html_part(message)}".lower()
        assert settings.PLATFORM_NAME.lower() not in everything
        assert tenant_b.tenant.name.lower() not in everything
        if language != "en":
            english = EXPECTED["en"][kind][1]
            assert english not in message.body, (kind, "left in English")


def test_amounts_and_dates_follow_the_clients_locale(seller, mailoutbox):
    invoice = invoice_issue(client_in("ru"), "1000.00")

    message = emails.email_invoice_issued(invoice, attach_pdf=False)

    body = flat(message.body)
    assert "1 220,00 €" in body
    due = flat(documents.date_format(invoice.due_date, "ru"))
    assert due in body
    assert due.endswith(" г.")
    assert message.attachments == []


def test_the_language_falls_back_to_the_tenants_default(seller, mailoutbox):
    services.billing_settings_update(default_language="it")
    client = client_in("", email="nolang@example.test")

    message = emails.email_invoice_issued(invoice_issue(client), attach_pdf=False)

    assert message.subject.startswith("Fattura ")


def test_invoice_contacts_get_a_copy(seller, mailoutbox):
    client = client_in("en")
    services.contact_create(
        client=client, name="Accounts", email="accounts@example.test", receives_invoices=True
    )
    services.contact_create(
        client=client, name="Ops", email="ops@example.test", receives_technical=True
    )

    message = emails.email_invoice_issued(invoice_issue(client), attach_pdf=False)

    assert message.cc == ["accounts@example.test"]


def test_each_tenant_writes_as_itself(tenant_b, db, mailoutbox):
    with schema_context(tenant_b.schema):
        services.billing_settings_update(
            legal_name="Beta Web Ltd", country="GB", email_from_address="accounts@beta.test"
        )
        client = services.client_create(name="Jane Doe", email="jane@example.test")

        message = emails.email_invoice_issued(invoice_issue(client), attach_pdf=False)

    assert message.from_email == "Beta Web Ltd <accounts@beta.test>"
    assert "Beta Web Ltd" in message.body
    assert "Alfa" not in message.body
    assert "alpha" not in message.body


def test_a_tenant_may_write_its_own_text():
    context = {
        "client_name": "Giulia",
        "invoice_number": "2025/00007",
        "amount_due": "12,20 €",
        "seller_name": "Alfa <Servizi>",
        "seller_address_lines": [],
        "accent_color": "#123456",
    }
    override = EmailOverride(
        subject="{{ invoice_number }}: promemoria",
        body="Ciao {{ client_name }},\n\n{% if amount_due %}mancano {{ amount_due }}.{% endif %}",
    )

    rendered = emails.email_render(
        EmailKind.PAYMENT_REMINDER, context, language="it", override=override
    )

    assert rendered.subject == "2025/00007: promemoria"
    assert rendered.text.startswith("Ciao Giulia,\n\nmancano 12,20 €.")
    assert "<p>mancano 12,20 €.</p>" in rendered.html
    assert "Alfa &lt;Servizi&gt;" in rendered.html, "escaped in the HTML part"


@pytest.mark.parametrize(
    "text", ["{% load static %}x", "{% include 'base.html' %}", "{% debug %}", "{% if %}"]
)
def test_a_tenants_text_may_not_reach_beyond_its_values(text):
    with pytest.raises(ValueError):
        emails.email_override_validate(text)


def test_stale_news_is_not_sent(seller, mailoutbox):
    client = client_in("en")
    invoice = invoice_issue(client, "10.00")
    services.payment_record(
        invoice=invoice, amount=invoice.amount_due, method="manual", idempotency_key="paid"
    )

    assert emails.email_send_for(EmailKind.PAYMENT_REMINDER, invoice.pk) is None
    assert emails.email_send_for(EmailKind.INVOICE_OVERDUE, invoice.pk) is None
    assert mailoutbox == []


def test_a_suspension_for_non_payment_names_the_invoice(seller, mailoutbox):
    client = client_in("en")
    service = service_live(seller, client)
    invoice = services.invoice_create(client=client)
    services.invoice_line_add(
        invoice=invoice, description="Renewal", unit_price=eur("10.00"), service=service
    )
    invoice = services.invoice_issue(invoice=invoice)
    Invoice.objects.filter(pk=invoice.pk).update(status=Invoice.Status.OVERDUE)
    services.service_suspend(service=service, reason=services.SUSPENSION_OVERDUE)

    message = emails.email_send_for(EmailKind.SERVICE_SUSPENDED, service.pk)

    body = flat(message.body)
    assert f"Invoice {invoice.number} for €12.20 is overdue." in body
    assert "reactivated automatically" in body
    assert "Reason:" not in body


def test_the_email_task_renders_the_pdf_and_attaches_it(seller, mailoutbox, media_root):
    invoice = invoice_issue(client_in("it"))

    result = email_send_task.apply(args=[str(EmailKind.INVOICE_ISSUED), invoice.pk])

    assert result.get() is True
    invoice.refresh_from_db()
    assert invoice.pdf_template_hash
    (message,) = mailoutbox
    assert message.attachments[0][2] == "application/pdf"


def test_the_billing_run_notifies_in_chunks(seller, mailoutbox, media_root):
    invoices = [invoice_issue(client_in(language)) for language in ("en", "it")]
    ids = [invoice.pk for invoice in invoices]

    assert invoices_notify_task.apply(args=["reminder", ids]).get() == 2
    assert invoices_notify_task.apply(args=["issued", ids]).get() == 2

    subjects = [message.subject for message in mailoutbox]
    assert subjects[0].startswith("Reminder: invoice ")
    assert subjects[1].startswith("Promemoria: la fattura ")
    assert subjects[2].startswith("Invoice ")
    assert subjects[3].startswith("Fattura ")
    assert all(message.attachments for message in mailoutbox[2:]), "issued: with the PDF"


def test_the_billing_run_task_runs_in_its_tenant(seller, tenant_a):
    result = billing_run_task.apply().get()

    assert result["schema"] == tenant_a.schema


@pytest.mark.worker
def test_issuing_an_invoice_sends_it_from_a_worker(celery_worker_process, tenant_factory):
    """Through the billing events: issuing queues the e-mail task, which renders the PDF
    on the worker, in the tenant's schema."""
    from billing.events import invoice_event_listeners, service_event_listeners

    created = tenant_factory(name="Epsilon Hosting")
    saved = (list(invoice_event_listeners), list(service_event_listeners))
    emails.listeners_register()
    try:
        with tenant_context(created.tenant):
            services.billing_settings_update(
                legal_name="Epsilon Servizi S.r.l.", email_from_address="billing@epsilon.test"
            )
            client = services.client_create(name="Luca", email="luca@example.test")
            invoice = invoice_issue(client)
        assert connection.schema_name == "public"

        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with tenant_context(created.tenant):
                invoice.refresh_from_db()
            if invoice.pdf_template_hash:
                break
            time.sleep(0.25)
        assert invoice.pdf_template_hash, "the worker rendered the PDF before mailing it"
    finally:
        invoice_event_listeners[:] = saved[0]
        service_event_listeners[:] = saved[1]
        import shutil
        from pathlib import Path

        shutil.rmtree(Path(settings.MEDIA_ROOT) / created.tenant.schema_name, ignore_errors=True)


def test_money_received_sends_a_receipt_and_credit_moved_onto_an_invoice_does_not(
    seller, mailoutbox, django_capture_on_commit_callbacks, tasks_inline
):
    emails.listeners_register()
    client = client_in("it")
    invoice = invoice_issue(client, "100.00")
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.payment_record(
            invoice=invoice, amount=eur("40.00"), method="bank_transfer", idempotency_key="p-40"
        )
    (receipt,) = mailoutbox
    assert receipt.to == ["giulia.it@example.test"]
    assert "40,00" in receipt.body and invoice.number in receipt.body

    mailoutbox.clear()
    services.credit_add(client=client, amount=eur("60.00"), idempotency_key="goodwill")
    with django_capture_on_commit_callbacks(execute=True):
        services.credit_apply(invoice=invoice)
    assert mailoutbox == []
