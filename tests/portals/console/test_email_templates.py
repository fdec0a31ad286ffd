"""The console's E-mails page: every e-mail by language with its state, the editor with
the values it may use, a preview in the tenant's layout, a test sent to oneself, saving
(refused with a message when the text reaches beyond its values) and going back to the
built-in text. Another tenant never sees the texts."""

from __future__ import annotations

import html as html_lib
import re

import pytest
from django.core import mail
from django_tenants.utils import schema_context

from accounts.branding import branding_update
from audit.models import AuditEntry
from billing import services
from billing.email_templates import TEMPLATE_KINDS
from billing.models import EmailTemplate

pytestmark = pytest.mark.django_db

URL = "/console/emails/"
EDIT = "/console/emails/invoice_issued/it/"


def test_the_list_shows_every_email_and_language_with_its_state(tenant_a):
    with schema_context(tenant_a.schema):
        services.email_template_save(
            kind="payment_reminder", language="ru", subject="Напоминание", body="Оплатите."
        )
    page = tenant_a.client(tenant_a.readonly).get(URL)

    assert page.status_code == 200
    text = page.content.decode()
    for kind in TEMPLATE_KINDS.values():
        assert str(kind.label) in text
    assert text.count("/console/emails/") >= len(TEMPLATE_KINDS) * 4
    reminder_ru = re.search(r'href="/console/emails/payment_reminder/ru/"[^>]*>(.*?)</a>', text)
    assert "Customised" in reminder_ru.group(1)
    reminder_it = re.search(r'href="/console/emails/payment_reminder/it/"[^>]*>(.*?)</a>', text)
    assert "Default" in reminder_it.group(1)


def test_the_editor_starts_from_the_built_in_text_in_its_language(tenant_a):
    page = tenant_a.client(tenant_a.owner).get(EDIT)

    assert page.status_code == 200
    text = html_lib.unescape(page.content.decode())
    assert "Fattura {{ invoice_number }} da {{ seller_name }}" in text
    assert "abbiamo emesso la fattura {{ invoice_number }}" in text
    # The values it may use, each described.
    assert "{{ amount_due }}" in text and "What is left to pay" in text
    # The current text, previewed with made-up values in a sandboxed frame.
    assert re.search(r"<iframe[^>]* sandbox=\"allow-same-origin\" ", page.content.decode())
    assert "Giulia Bianchi" in text


def test_the_new_client_welcome_is_listed_and_edited_like_the_others(tenant_a):
    owner = tenant_a.client(tenant_a.owner)
    listed = owner.get(URL).content.decode()
    assert 'href="/console/emails/client_welcome/it/"' in listed
    assert "New client account (welcome)" in listed

    page = owner.get("/console/emails/client_welcome/it/")

    assert page.status_code == 200
    text = html_lib.unescape(page.content.decode())
    assert "Benvenuto in {{ seller_name }}" in text
    assert "Accede con il suo indirizzo e-mail, {{ login_email }}," in text
    assert "{{ login_url }}" in text and "The page where the client signs in" in text
    assert "password }}" not in text


def test_saving_is_used_by_the_next_email_and_audited(tenant_a):
    owner = tenant_a.client(tenant_a.owner)
    response = owner.post(
        EDIT,
        {
            "subject": "La sua fattura {{ invoice_number }}",
            "body": "Ciao {{ client_name }}: {{ total }}.",
            "action": "save",
        },
    )

    assert response.status_code == 302
    with schema_context(tenant_a.schema):
        row = EmailTemplate.objects.get(kind="invoice_issued", language="it")
        assert row.subject == "La sua fattura {{ invoice_number }}"
        assert row.updated_by == tenant_a.owner
        entry = AuditEntry.objects.get(action="email_template.saved")
        assert entry.object_id == "invoice_issued:it"
        assert entry.actor_label and entry.after["body"] == "Ciao {{ client_name }}: {{ total }}."
    page = owner.get(EDIT)
    assert "La sua fattura {{ invoice_number }}" in html_lib.unescape(page.content.decode())
    assert "Customised" in page.content.decode()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{{ settings.SECRET_KEY }}", "“settings.SECRET_KEY” is not a value this e-mail has"),
        ("{% load static %}", "The tag “load” cannot be used"),
        ("{% include 'console/base.html' %}", "The tag “include” cannot be used"),
        ("{% debug %}", "The tag “debug” cannot be used"),
        ("{{ password }}", "“password” is not a value this e-mail has"),
    ],
)
def test_a_text_that_reaches_beyond_its_values_is_refused_with_a_message(tenant_a, body, message):
    for action in ("save", "preview", "test"):
        mail.outbox.clear()
        response = tenant_a.client(tenant_a.owner).post(
            EDIT, {"subject": "Fattura", "body": body, "action": action}
        )
        assert response.status_code == 400
        assert message in html_lib.unescape(response.content.decode())
        assert "<iframe" not in response.content.decode()
        assert mail.outbox == []
    with schema_context(tenant_a.schema):
        assert not EmailTemplate.objects.exists()


def test_preview_shows_the_unsaved_text_in_the_tenants_layout(tenant_a, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.MULTITENANT_RELATIVE_MEDIA_ROOT = "%s"
    with schema_context(tenant_a.schema):
        branding_update(company_name="Alpha", brand_color="#aa3300")
    response = tenant_a.client(tenant_a.owner).post(
        EDIT,
        {
            "subject": "Anteprima {{ invoice_number }}",
            "body": "Ciao {{ client_name|upper }}",
            "action": "preview",
        },
    )

    assert response.status_code == 200
    text = response.content.decode()
    assert "Anteprima 2026/00042" in text
    srcdoc = html_lib.unescape(re.search(r'srcdoc="([^"]*)"', text).group(1))
    assert "Ciao GIULIA BIANCHI" in srcdoc
    assert "#aa3300" in srcdoc
    with schema_context(tenant_a.schema):
        assert not EmailTemplate.objects.exists()


def test_send_test_goes_to_the_staff_members_own_address(tenant_a):
    mail.outbox.clear()
    response = tenant_a.client(tenant_a.owner).post(
        EDIT,
        {"subject": "Prova {{ invoice_number }}", "body": "Ciao", "action": "test"},
    )

    assert response.status_code == 200
    (message,) = mail.outbox
    assert message.to == [tenant_a.owner.email]
    assert message.subject == "[TEST] Prova 2026/00042"
    assert "Test e-mail sent to" in response.content.decode()


def test_reset_goes_back_to_the_built_in_text(tenant_a):
    with schema_context(tenant_a.schema):
        services.email_template_save(
            kind="invoice_issued", language="it", subject="Mia", body="Mio testo"
        )
    owner = tenant_a.client(tenant_a.owner)

    response = owner.post(EDIT, {"action": "reset"})

    assert response.status_code == 302
    with schema_context(tenant_a.schema):
        assert not EmailTemplate.objects.exists()
        assert AuditEntry.objects.filter(action="email_template.reset").count() == 1
    page = html_lib.unescape(owner.get(EDIT).content.decode())
    assert "Fattura {{ invoice_number }} da {{ seller_name }}" in page


def test_read_only_staff_may_look_but_not_change(tenant_a):
    readonly = tenant_a.client(tenant_a.readonly)
    assert readonly.get(EDIT).status_code == 200
    response = readonly.post(EDIT, {"subject": "x", "body": "y", "action": "save"})
    assert response.status_code == 403
    with schema_context(tenant_a.schema):
        assert not EmailTemplate.objects.exists()


def test_clients_and_strangers_are_kept_out(tenant_a):
    assert tenant_a.client(tenant_a.client_user).get(URL).status_code in (302, 403)
    assert tenant_a.client().get(EDIT).status_code == 302


@pytest.mark.parametrize(
    "path", ["/console/emails/nothing/it/", "/console/emails/invoice_issued/de/"]
)
def test_an_unknown_email_or_language_is_not_found(tenant_a, path):
    assert tenant_a.client(tenant_a.owner).get(path).status_code == 404


def test_another_tenant_never_sees_this_tenants_texts(tenant_a, tenant_b):
    tenant_a.client(tenant_a.owner).post(
        EDIT, {"subject": "ALFA {{ invoice_number }}", "body": "alfa", "action": "save"}
    )
    page = tenant_b.client(tenant_b.owner).get(EDIT)
    text = html_lib.unescape(page.content.decode())
    assert "ALFA" not in text
    assert "Fattura {{ invoice_number }} da {{ seller_name }}" in text
    listing = tenant_b.client(tenant_b.owner).get(URL).content.decode()
    assert "Customised" not in listing
    with schema_context(tenant_b.schema):
        assert not EmailTemplate.objects.exists()
