"""A tenant's own e-mail texts: the next e-mail uses them, in the client's language, under
the tenant's logo and colour; a text that reaches beyond its values is refused when
saved; one tenant's texts never reach another tenant's clients."""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import schema_context
from PIL import Image

from accounts import staff
from accounts.adapters import AccountAdapter
from accounts.branding import branding_update
from audit.models import AuditEntry
from billing import email_templates, emails, services
from billing.emails import EmailKind
from billing.events import OrderEventKind, order_event_listeners
from billing.models import Cart, EmailTemplate
from billing.money import Money
from billing.payments import emails as payment_emails
from support import emails as support_emails
from support import services as support_services
from tests.billing.conftest import flat, html_part
from tests.support.conftest import desk_build

pytestmark = pytest.mark.django_db

LOGO_URL_RE = re.compile(r'<img src="(https?://[^"]+/brand/logo/\?v=\d+)"')


def png() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (60, 20), (200, 30, 30)).save(buffer, format="PNG")
    return SimpleUploadedFile("logo.png", buffer.getvalue())


@pytest.fixture
def branded(shop, media_root):
    branding_update(company_name="Alfa", brand_color="#aa3300", logo=png())
    return shop


def client_in(language: str, name: str = "Giulia Bianchi"):
    return services.client_create(
        name=name,
        email=f"{language}.{name.split()[0].lower()}@example.test",
        country="IT",
        language=language,
    )


def invoice_issue(client, amount: str = "100.00"):
    invoice = services.invoice_create(client=client)
    services.invoice_line_add(
        invoice=invoice, description="Web hosting Pro", unit_price=Money(Decimal(amount), "EUR")
    )
    return services.invoice_issue(invoice=invoice)


def test_a_changed_text_is_used_for_the_next_email_in_the_clients_language(
    branded, mailoutbox, tenant_a
):
    italian, english = client_in("it"), client_in("en", "John Smith")
    before = emails.email_invoice_issued(invoice_issue(italian), attach_pdf=False)
    assert before.subject.startswith("Fattura ")

    services.email_template_save(
        kind="invoice_issued",
        language="it",
        subject="La sua fattura {{ invoice_number }}",
        body="Ciao {{ client_name }},\n\nè pronta la fattura di {{ total }}.",
    )
    services.email_template_save(
        kind="invoice_issued",
        language="",
        subject="Your bill {{ invoice_number }}",
        body="Hello {{ client_name|upper }}, your bill of {{ total }} is ready.",
    )

    invoice = invoice_issue(italian)
    message = emails.email_invoice_issued(invoice, attach_pdf=False)
    assert message.subject == f"La sua fattura {invoice.number}"
    assert flat(message.body).startswith("Ciao Giulia Bianchi, è pronta la fattura di 122,00 €.")
    html = html_part(message)
    assert "Ciao Giulia Bianchi," in html
    # The reseller's colour and logo, not a fixed header.
    assert "#aa3300" in html
    assert "#1f3b57" not in html
    logo_url = LOGO_URL_RE.search(html).group(1)
    assert logo_url.startswith(emails.portal_url().rstrip("/") + "/brand/logo/?v=")
    assert tenant_a.host in logo_url

    # A client whose language has no text of its own gets the all-languages one.
    other = invoice_issue(english)
    message = emails.email_invoice_issued(other, attach_pdf=False)
    assert message.subject == f"Your bill {other.number}"
    assert "Hello JOHN SMITH, your bill of €122.00 is ready." in flat(message.body)
    assert message.from_email == '"Alfa Servizi Internet S.r.l." <billing@alpha.test>'


def test_without_a_logo_the_header_names_the_tenant_in_its_colour(shop, mailoutbox):
    branding_update(company_name="Alfa", brand_color="#117744")
    message = emails.email_invoice_issued(invoice_issue(client_in("en")), attach_pdf=False)
    html = html_part(message)
    assert "<img" not in html
    assert "color:#117744" in html
    assert "Alfa Servizi Internet S.r.l.</td>" in html


@pytest.mark.parametrize(
    ("field", "text", "named"),
    [
        ("body", "{{ settings.SECRET_KEY }}", "settings.SECRET_KEY"),
        ("body", "{% if settings.DEBUG %}x{% endif %}", "settings.DEBUG"),
        ("body", "{% load static %}{% static 'x' %}", "load"),
        ("body", "{% include 'billing/emails/layout.txt' %}", "include"),
        ("body", "{% ssi '/etc/passwd' %}", "ssi"),
        ("body", "{% debug %}", "debug"),
        ("body", "{% now 'Y' %}", "now"),
        ("subject", "{{ client_name|safe }}", "safe"),
        ("subject", "{{ client_password }}", "client_password"),
        ("body", "{{ client_name.upper }}", "client_name.upper"),
        ("body", "{{ total|default:settings }}", "settings"),
        ("body", "{% if %}x{% endif %}", "not a valid template"),
    ],
)
def test_a_text_that_reaches_beyond_its_values_is_refused(shop, field, text, named):
    values = {"subject": "Invoice {{ invoice_number }}", "body": "Dear {{ client_name }}"}
    values[field] = text
    with pytest.raises(ValidationError) as refused:
        services.email_template_save(kind="invoice_issued", language="it", **values)
    messages = " ".join(refused.value.message_dict[field])
    assert named in messages
    assert not EmailTemplate.objects.exists()
    assert not AuditEntry.objects.filter(object_type="email_template").exists()


def test_saving_and_resetting_are_audited(shop):
    services.email_template_save(
        kind="payment_reminder", language="ru", subject="Счёт {{ invoice_number }}", body="-"
    )
    services.email_template_save(
        kind="payment_reminder", language="ru", subject="Напоминание", body="-"
    )
    assert services.email_template_reset(kind="payment_reminder", language="ru") is True
    assert services.email_template_reset(kind="payment_reminder", language="ru") is False
    entries = list(
        AuditEntry.objects.filter(object_type="email_template")
        .order_by("id")
        .values_list("action", "object_id", "before", "after")
    )
    assert [e[0] for e in entries] == [
        "email_template.saved",
        "email_template.saved",
        "email_template.reset",
    ]
    assert entries[1][2] == {"subject": "Счёт {{ invoice_number }}", "body": "-"}
    assert entries[2][1] == "payment_reminder:ru"
    assert not EmailTemplate.objects.exists()


@pytest.mark.parametrize("language", ["en", "it", "ru"])
@pytest.mark.parametrize("kind", sorted(email_templates.TEMPLATE_KINDS))
def test_the_editors_starting_text_is_the_built_in_one(shop, kind, language):
    """Saved unchanged, the text the editor starts from sends what the built-in does."""
    subject, body = emails.email_default_text(kind, language)
    seller = emails.seller_get()
    context = emails.email_sample_context(kind, language=language, seller=seller)
    folder = email_templates.template_kind(kind).folder

    built_in = emails.email_render(kind, context, language=language, folder=folder)
    as_written = emails.email_render(
        kind,
        context,
        language=language,
        folder=folder,
        override=emails.EmailOverride(subject=subject, body=body),
    )

    assert as_written == built_in
    assert "{{" not in built_in.text and "{%" not in built_in.text


def test_another_tenants_clients_never_get_this_tenants_text(shop, tenant_b, mailoutbox):
    services.email_template_save(
        kind="invoice_issued", language="", subject="ALFA {{ invoice_number }}", body="alfa"
    )
    with schema_context(tenant_b.schema):
        services.billing_settings_update(email_from_address="accounts@beta.test")
        client = client_in("en")
        message = emails.email_invoice_issued(invoice_issue(client), attach_pdf=False)
        assert not EmailTemplate.objects.exists()
    assert message.subject.startswith("Invoice ")
    assert "ALFA" not in message.subject + message.body
    assert "Alfa" not in message.body


def test_an_order_sends_its_confirmation_in_the_tenants_text(
    shop, mailoutbox, django_capture_on_commit_callbacks
):
    heard = []
    order_event_listeners.append(heard.append)
    try:
        services.email_template_save(
            kind="order_confirmation",
            language="",
            subject="Order received",
            body="{{ client_name }} ordered:\n{{ order_items }}\nTotal {{ order_total }}"
            "{% if amount_due %}, to pay {{ amount_due }} (invoice {{ invoice_number }})"
            "{% endif %}.",
        )
        cart = services.cart_create(client=shop.client)
        services.cart_item_add(cart=cart, plan=shop.pro, cycle="monthly")
        with django_capture_on_commit_callbacks(execute=True):
            order = services.checkout_place(cart=Cart.objects.get(pk=cart.pk), client=shop.client)
    finally:
        order_event_listeners.remove(heard.append)
    assert [(e.kind, e.order_id) for e in heard] == [(OrderEventKind.PLACED, order.pk)]
    assert emails.on_order_event in order_event_listeners

    message = emails.email_send_for(EmailKind.ORDER_CONFIRMATION, order.pk)

    assert message.subject == "Order received"
    assert message.to == ["mario@example.test"]
    body = flat(message.body)
    assert "Mario Rossi ordered:" in body
    assert "Pro" in body and "€30.00" in body
    assert f"Total €36.60, to pay €36.60 (invoice {order.invoice.number})." in body


def test_the_built_in_order_confirmation(shop, mailoutbox):
    cart = services.cart_create(client=shop.client)
    services.cart_item_add(cart=cart, plan=shop.starter, cycle="monthly")
    order = services.checkout_place(cart=cart, client=shop.client)
    shop.client.language = "it"
    shop.client.save()

    message = emails.email_send_for(EmailKind.ORDER_CONFIRMATION, order.pk)

    assert message.subject == "Il suo ordine presso Alfa Servizi Internet S.r.l."
    body = flat(message.body)
    assert "Gentile Mario Rossi," in body
    assert "Totale: 12,20 €" in body
    assert order.invoice.number in body


def test_a_ticket_e_mail_uses_the_tenants_text(tenant_a, mailoutbox):
    with schema_context(tenant_a.schema):
        desk = desk_build()
        desk.client.language = "ru"
        desk.client.save()
        services.email_template_save(
            kind="ticket_received",
            language="ru",
            subject="Заявка #{{ ticket_number }}",
            body="{{ client_name }}, заявка «{{ ticket_subject }}» в отделе {{ department }}.",
        )
        ticket = support_services.ticket_open(
            department=desk.general, subject="Сайт", body="Ошибка", client=desk.client
        )
        sent = support_emails.ticket_email_send(
            support_emails.CLIENT_RECEIVED, ticket.pk, ticket.messages.get().pk
        )
    assert sent
    message = mailoutbox[-1]
    assert message.subject == f"Заявка #{ticket.number}"
    assert "Mario Rossi, заявка «Сайт» в отделе Technical support." in message.body
    assert message.reply_to == [f"support+{ticket.reply_token}@alpha.test"]


def test_a_card_payment_e_mail_uses_the_tenants_text(shop, mailoutbox):
    services.email_template_save(
        kind="payment_action_required",
        language="",
        subject="Confirm {{ amount }}",
        body="Confirm at {{ action_url }}",
    )
    message = payment_emails.client_email_send(
        "payment_action_required",
        client=shop.client,
        context=lambda language: {
            "invoice_number": "2026/00001",
            "amount": "€5.00",
            "action_url": "https://pay.example/x",
        },
    )
    assert message.subject == "Confirm €5.00"
    assert message.body.startswith("Confirm at https://pay.example/x")


def test_the_preview_and_the_test_use_sample_values_in_the_tenants_layout(branded, mailoutbox):
    preview = emails.email_preview(
        "service_suspended",
        language="it",
        subject="{{ service_name }} sospeso",
        body="{{ client_name }}: {{ reason|default:'-' }} {{ amount_due }}",
    )
    assert preview.subject == "Web hosting Pro sospeso"
    assert "Giulia Bianchi: Segnalazione di abuso 122,00 €" in flat(preview.text)
    assert "#aa3300" in preview.html and LOGO_URL_RE.search(preview.html)

    message = emails.email_test_send(
        "service_suspended",
        language="it",
        subject="{{ service_name }} sospeso",
        body="x",
        to="owner@alpha.test",
    )
    assert len(mailoutbox) == 1
    assert mailoutbox[0].subject == message.subject == "[TEST] Web hosting Pro sospeso"
    assert message.to == ["owner@alpha.test"]

    with pytest.raises(ValidationError):
        emails.email_preview("service_suspended", language="it", subject="x", body="{% debug %}")


def test_the_password_reset_goes_in_the_tenants_text_and_sender(tenant_a, mailoutbox):
    with schema_context(tenant_a.schema):
        services.billing_settings_update(
            email_from_name="Alfa Accounts", email_from_address="accounts@alpha.test"
        )
        services.email_template_save(
            kind="password_reset",
            language="",
            subject="New password at {{ seller_name }}",
            body="{{ client_name }}, choose it here: {{ reset_url }}",
        )
    response = tenant_a.client().post("/auth/password/reset/", {"email": "client@alpha.test"})

    assert response.status_code == 302
    (message,) = mailoutbox
    assert message.subject == "New password at Alpha Hosting"
    assert message.from_email == "Alfa Accounts <accounts@alpha.test>"
    assert re.search(
        rf"choose it here: https?://{re.escape(tenant_a.host)}/auth/password/reset/key/\S+/",
        message.body,
    )
    assert "#1f3b57" not in html_part(message)


def test_staff_invitations_and_account_notices_come_from_the_tenants_sender(
    tenant_a, mailoutbox, django_capture_on_commit_callbacks
):
    with schema_context(tenant_a.schema):
        services.billing_settings_update(
            email_from_name="Alfa Accounts", email_from_address="accounts@alpha.test"
        )
        with django_capture_on_commit_callbacks(execute=True):
            staff.staff_invite(
                email="new.agent@alpha.test",
                role="support",
                invited_by=tenant_a.owner,
                hostname=tenant_a.host,
                site_name="Alpha Hosting",
            )
        assert AccountAdapter().get_from_email() == "Alfa Accounts <accounts@alpha.test>"
    (message,) = mailoutbox
    assert message.to == ["new.agent@alpha.test"]
    assert message.from_email == "Alfa Accounts <accounts@alpha.test>"
    # On the platform's own host, the installation's sender.
    assert AccountAdapter().get_from_email() == settings.DEFAULT_FROM_EMAIL


def test_a_new_client_account_is_welcomed_in_the_tenants_text(
    shop, mailoutbox, django_capture_on_commit_callbacks, tasks_inline
):
    from portals.client_area.services import client_signup

    emails.listeners_register()
    services.email_template_save(
        kind="client_welcome",
        language="it",
        subject="Ciao {{ client_name }}",
        body="Entri con {{ login_email }} da {{ login_url }} — {{ seller_name }}",
    )
    with django_capture_on_commit_callbacks(execute=True):
        client_signup(
            email="Anna.Verdi@example.test",
            password="a-long-and-unusual-passphrase",
            name="Anna Verdi",
            country="IT",
            language="it",
        )

    (message,) = mailoutbox
    assert message.to == ["anna.verdi@example.test"]
    assert message.subject == "Ciao Anna Verdi"
    body = flat(message.body)
    assert "Entri con anna.verdi@example.test da http" in body
    assert "/login/ — Alfa Servizi Internet S.r.l." in body
    assert "a-long-and-unusual-passphrase" not in body + html_part(message)
    assert message.extra_headers["Content-Language"] == "it"
