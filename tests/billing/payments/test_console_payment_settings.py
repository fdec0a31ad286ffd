"""The console's payment settings: the owner moves card payments to a Stripe account of
its own (write-only secrets, shown masked, tested against the local Stripe), sets when
saved cards are charged and the dunning days; every change is audited without the
secrets; read-only staff only read, and tenant B is untouched."""

from __future__ import annotations

import html

import pytest
from django_tenants.utils import schema_context

from audit.models import AuditEntry
from billing import services
from billing.models import Invoice
from billing.models.gateway import PaymentSettings
from billing.payments.gateways import GatewayConfigError
from billing.payments.gateways.config import payment_settings_get, stripe_gateway_for_tenant
from core.crypto import secret_decrypt
from tests.portals.conftest import staff_member

from .helpers import WEBHOOK_PATH, deliver, invoice_make, platform_configure
from .pages import pay_on_page, site_get

pytestmark = pytest.mark.django_db

PAGE = "/console/payments/"
OWN_KEY = "sk_test_alpha_own_account_0123456789abcd"
OWN_SECRET = "whsec_alpha_own_endpoint_secret_9876wxyz"
OWN_PUBLISHABLE = "pk_test_alpha_own_publishable_key"


@pytest.fixture
def configured(tenant_a, stripe_server, platform, stripe_settings, settings):
    platform_configure(stripe_settings, settings)
    return platform


def _text(response) -> str:
    return html.unescape(response.content.decode())


def _own_keys(**overrides) -> dict[str, str]:
    form = {
        "action": "stripe",
        "stripe_mode": "own_keys",
        "stripe_secret_key": OWN_KEY,
        "stripe_publishable_key": OWN_PUBLISHABLE,
        "stripe_webhook_secret": OWN_SECRET,
    }
    form.update(overrides)
    return form


def _settings(world) -> PaymentSettings:
    with schema_context(world.schema):
        return payment_settings_get()


def _audit(world) -> list[AuditEntry]:
    with schema_context(world.schema):
        return list(AuditEntry.objects.filter(action="payment_settings.updated"))


def test_the_owner_moves_card_payments_to_its_own_account(tenant_a, configured, stripe_server):
    own_account = stripe_server.register_key(OWN_KEY)
    owner = tenant_a.client(tenant_a.owner)
    page = _text(owner.get(PAGE))
    assert "My own Stripe account" in page and "Test the keys" in page
    assert f"https://{tenant_a.host}{WEBHOOK_PATH}" in page
    assert "checkout.session.completed" in page and "payment_intent.succeeded" in page

    saved = owner.post(PAGE, _own_keys())
    assert saved.status_code == 302 and saved["Location"] == PAGE
    row = _settings(tenant_a)
    assert row.stripe_mode == PaymentSettings.StripeMode.OWN_KEYS
    assert row.stripe_publishable_key == OWN_PUBLISHABLE
    assert secret_decrypt(row.stripe_secret_key_encrypted) == OWN_KEY
    assert OWN_KEY not in row.stripe_secret_key_encrypted

    # A client pays an invoice by card: the money lands on the tenant's own account.
    with schema_context(tenant_a.schema):
        client = services.client_create(
            name="Mario Rossi", email="mario@example.test", country="IT"
        )
        services.client_user_link(client=client, user=tenant_a.client_user)
        invoice = invoice_make(client, "80.00")
    browser = tenant_a.client(tenant_a.client_user)
    started = browser.post(f"/account/invoices/{invoice.public_id}/card/")
    assert started.status_code == 302 and "/c/pay/cs_test_" in started["Location"]
    site_get(browser, pay_on_page(started["Location"], "4242424242424242").location)
    with schema_context(tenant_a.schema):
        invoice.refresh_from_db()
        assert invoice.status == Invoice.Status.PAID
    (charge,) = stripe_server.charges
    assert charge.account == own_account != configured.account
    assert stripe_server.charges_on(configured.account) == []

    # Its events reach the tenant's endpoint signed with the secret entered on the page.
    shop = tenant_a.client()
    for event in stripe_server.events(own_account):
        assert deliver(shop, stripe_server, event, OWN_SECRET).status_code == 200


def test_secrets_are_write_only_and_an_empty_field_keeps_them(tenant_a, configured, stripe_server):
    owner = tenant_a.client(tenant_a.owner)
    owner.post(PAGE, _own_keys())
    page = owner.get(PAGE).content.decode()
    assert OWN_KEY not in page and OWN_SECRET not in page
    assert "sk_test_…abcd" in html.unescape(page) and "whsec_…wxyz" in html.unescape(page)

    # Saving again with the secret fields empty keeps the stored secrets.
    kept = owner.post(
        PAGE, _own_keys(stripe_secret_key="", stripe_webhook_secret="", stripe_publishable_key="")
    )
    assert kept.status_code == 302
    row = _settings(tenant_a)
    assert secret_decrypt(row.stripe_secret_key_encrypted) == OWN_KEY
    assert secret_decrypt(row.stripe_webhook_secret_encrypted) == OWN_SECRET
    assert row.stripe_publishable_key == ""

    # A form sent back with errors does not echo what was typed either.
    refused = owner.post(PAGE, _own_keys(stripe_publishable_key="nonsense"))
    assert refused.status_code == 400
    assert OWN_KEY not in refused.content.decode() and OWN_SECRET not in refused.content.decode()


def test_every_change_is_audited_with_the_secrets_masked(tenant_a, configured, stripe_server):
    owner = tenant_a.client(tenant_a.owner)
    owner.post(PAGE, _own_keys())
    owner.post(PAGE, {"action": "collection", "autocharge_when": "issue", "dunning_days": "2, 4"})
    first, second = _audit(tenant_a)
    assert first.actor_kind == "staff" and first.actor_id
    assert first.after["stripe_mode"] == "own_keys"
    assert first.after["stripe_secret_key"] == "sk_test_…abcd"
    assert first.after["stripe_webhook_secret"] == "whsec_…wxyz"
    assert first.before["stripe_secret_key"] == ""
    assert second.before == {"autocharge_when": "due", "dunning_days": [1, 3, 5]}
    assert second.after == {"autocharge_when": "issue", "dunning_days": [2, 4]}
    with schema_context(tenant_a.schema):
        logged = " ".join(str(e.before) + str(e.after) for e in AuditEntry.objects.all())
    assert OWN_KEY not in logged and OWN_SECRET not in logged
    # Saving what is already stored changes nothing and logs nothing.
    owner.post(PAGE, {"action": "collection", "autocharge_when": "issue", "dunning_days": "2 4"})
    assert len(_audit(tenant_a)) == 2


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        (
            {"stripe_secret_key": "pk_test_abc"},
            "stripe_secret_key",
            "This is a publishable key",
        ),
        (
            {"stripe_secret_key": "sq_live_abc"},
            "stripe_secret_key",
            "A Stripe secret key starts with sk_live_, sk_test_, rk_live_ or rk_test_.",
        ),
        (
            {"stripe_webhook_secret": "secret_abc"},
            "stripe_webhook_secret",
            "A Stripe webhook signing secret starts with whsec_.",
        ),
        (
            {"stripe_publishable_key": "sk_test_abc"},
            "stripe_publishable_key",
            "A Stripe publishable key starts with pk_live_ or pk_test_.",
        ),
        (
            {"stripe_publishable_key": "pk_live_abc"},
            "stripe_publishable_key",
            "both be live or both be test keys",
        ),
        ({"stripe_secret_key": ""}, "stripe_secret_key", "Enter the secret key"),
        ({"stripe_webhook_secret": ""}, "stripe_webhook_secret", "Enter the signing secret"),
    ],
)
def test_bad_keys_are_refused_and_nothing_is_stored(
    tenant_a, configured, stripe_server, form, field, message
):
    owner = tenant_a.client(tenant_a.owner)
    response = owner.post(PAGE, _own_keys(**form))
    assert response.status_code == 400
    assert message in response.context["stripe_form"].errors[field][0]
    assert message in _text(response)
    row = _settings(tenant_a)
    assert row.stripe_mode == PaymentSettings.StripeMode.DISABLED
    assert not row.stripe_secret_key_encrypted and not row.stripe_webhook_secret_encrypted
    assert _audit(tenant_a) == []


def test_the_platforms_own_key_is_refused(tenant_a, configured, stripe_server):
    owner = tenant_a.client(tenant_a.owner)
    response = owner.post(PAGE, _own_keys(stripe_secret_key=configured.api_key))
    assert response.status_code == 400
    assert "That is the platform's key" in _text(response)
    assert not _settings(tenant_a).stripe_secret_key_encrypted


@pytest.mark.parametrize(
    ("days", "message"),
    [
        ("1, x, 5", "“x” is not a whole number of days."),
        ("0, 3", "Retry days are between 1 and 60."),
        ("1, 3, 90", "Retry days are between 1 and 60."),
        ("5, 3, 1", "Give each day once, in increasing order"),
        ("1, 3, 3", "Give each day once, in increasing order"),
        ("-1", "“-1” is not a whole number of days."),
        (", ".join(str(day) for day in range(1, 12)), "At most 10 retries."),
    ],
)
def test_bad_retry_days_are_refused_and_nothing_is_stored(
    tenant_a, configured, stripe_server, days, message
):
    owner = tenant_a.client(tenant_a.owner)
    response = owner.post(
        PAGE, {"action": "collection", "autocharge_when": "issue", "dunning_days": days}
    )
    assert response.status_code == 400
    assert message in response.context["collection_form"].errors["dunning_days"][0]
    row = _settings(tenant_a)
    assert row.dunning_days == [1, 3, 5] and row.autocharge_when == "due"
    assert _audit(tenant_a) == []


def test_the_auto_charge_moment_and_retry_days_are_saved(tenant_a, configured, stripe_server):
    owner = tenant_a.client(tenant_a.owner)
    assert 'value="1, 3, 5"' in owner.get(PAGE).content.decode()
    saved = owner.post(
        PAGE, {"action": "collection", "autocharge_when": "issue", "dunning_days": "2, 7; 14"}
    )
    assert saved.status_code == 302
    row = _settings(tenant_a)
    assert row.autocharge_when == "issue" and row.dunning_days == [2, 7, 14]
    # No retries at all is a choice too.
    owner.post(PAGE, {"action": "collection", "autocharge_when": "due", "dunning_days": ""})
    assert _settings(tenant_a).dunning_days == []


def test_testing_a_good_key_says_so_and_saves_nothing(tenant_a, configured, stripe_server):
    own_account = stripe_server.register_key(OWN_KEY)
    owner = tenant_a.client(tenant_a.owner)
    tested = owner.post(PAGE, _own_keys(action="test_keys"), follow=True)
    page = _text(tested)
    assert f"The key works: it opens the Stripe test account {own_account}." in page
    assert "It is not saved yet" in page
    assert OWN_KEY not in page
    assert not _settings(tenant_a).stripe_secret_key_encrypted
    assert _audit(tenant_a) == []

    # Once saved, an empty field tests the stored key.
    owner.post(PAGE, _own_keys())
    again = _text(owner.post(PAGE, {"action": "test_keys"}, follow=True))
    assert f"The key works: it opens the Stripe test account {own_account}." in again
    assert "It is not saved yet" not in again


def test_testing_an_unknown_key_shows_stripes_error(tenant_a, configured, stripe_server):
    owner = tenant_a.client(tenant_a.owner)
    unknown = "sk_test_nobody_knows_this_key_0000"
    page = _text(
        owner.post(PAGE, {"action": "test_keys", "stripe_secret_key": unknown}, follow=True)
    )
    assert "Stripe refused the key: Invalid API Key provided: sk_test_" in page
    assert unknown not in page
    bad = _text(owner.post(PAGE, {"action": "test_keys", "stripe_secret_key": "abc"}, follow=True))
    assert "A Stripe secret key starts with sk_live_" in bad
    empty = _text(owner.post(PAGE, {"action": "test_keys"}, follow=True))
    assert "Enter a secret key to test." in empty


def test_testing_while_stripe_is_down_says_so(tenant_a, configured, stripe_server):
    stripe_server.register_key(OWN_KEY)
    stripe_server.fail_next(1, status=503)
    owner = tenant_a.client(tenant_a.owner)
    page = _text(
        owner.post(PAGE, {"action": "test_keys", "stripe_secret_key": OWN_KEY}, follow=True)
    )
    assert "Stripe could not be reached. Try again." in page


def test_choosing_connect_again_leaves_the_own_keys(tenant_a, configured, stripe_server):
    owner = tenant_a.client(tenant_a.owner)
    owner.post(PAGE, _own_keys())
    back = owner.post(PAGE, {"action": "stripe", "stripe_mode": "connect"})
    assert back.status_code == 302
    row = _settings(tenant_a)
    # No connected account yet: no card payments until the owner connects one.
    assert row.stripe_mode == PaymentSettings.StripeMode.DISABLED
    page = _text(owner.get(PAGE))
    assert "Connect a Stripe account" in page


@pytest.mark.parametrize("role", ["readonly", "billing", "support"])
def test_staff_without_the_admin_role_read_but_cannot_change(
    tenant_a, configured, stripe_server, role
):
    owner = tenant_a.client(tenant_a.owner)
    owner.post(PAGE, _own_keys())
    browser = tenant_a.client(staff_member(tenant_a, role))
    page = browser.get(PAGE)
    text = _text(page)
    assert page.status_code == 200
    assert "My own Stripe account" in text and "stored" in text
    assert OWN_KEY not in text and OWN_SECRET not in text and "…abcd" not in text
    assert 'name="stripe_secret_key"' not in text and "Test the keys" not in text
    for form in (
        _own_keys(stripe_secret_key="sk_test_someone_else_key_0000"),
        {"action": "test_keys", "stripe_secret_key": OWN_KEY},
        {"action": "collection", "autocharge_when": "issue", "dunning_days": "9"},
    ):
        assert browser.post(PAGE, form).status_code == 403
    row = _settings(tenant_a)
    assert secret_decrypt(row.stripe_secret_key_encrypted) == OWN_KEY
    assert row.dunning_days == [1, 3, 5]
    assert len(_audit(tenant_a)) == 1
    assert [r for r in stripe_server.requests if r.path == "/v1/account"] == []


def test_another_tenant_is_unaffected(tenant_a, tenant_b, configured, stripe_server):
    owner = tenant_a.client(tenant_a.owner)
    owner.post(PAGE, _own_keys())
    owner.post(PAGE, {"action": "collection", "autocharge_when": "issue", "dunning_days": "2"})

    row_b = _settings(tenant_b)
    assert row_b.stripe_mode == PaymentSettings.StripeMode.DISABLED
    assert not row_b.stripe_secret_key_encrypted and not row_b.stripe_webhook_secret_encrypted
    assert row_b.dunning_days == [1, 3, 5] and row_b.autocharge_when == "due"
    assert _audit(tenant_b) == []
    page_b = _text(tenant_b.client(tenant_b.owner).get(PAGE))
    assert "…abcd" not in page_b and f"https://{tenant_b.host}{WEBHOOK_PATH}" in page_b
    with schema_context(tenant_b.schema), pytest.raises(GatewayConfigError, match="not set up"):
        stripe_gateway_for_tenant()


@pytest.mark.parametrize(
    ("language", "button", "error"),
    [
        ("it", "Verifica le chiavi", "Indica ogni giorno una sola volta"),
        ("ru", "Проверить ключи", "Укажите каждый день один раз"),
    ],
)
def test_the_settings_speak_italian_and_russian(
    tenant_a, configured, stripe_server, settings, language, button, error
):
    owner = tenant_a.client(tenant_a.owner)
    owner.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    assert button in _text(owner.get(PAGE))
    refused = owner.post(
        PAGE, {"action": "collection", "autocharge_when": "due", "dunning_days": "3, 1"}
    )
    assert refused.status_code == 400 and error in _text(refused)
