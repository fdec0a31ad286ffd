"""The provider console on the platform host: its pages, what each provider staff role
may do there, and the actions behind them (a reseller from a form, money, suspension,
terms, the catalogue, the operations queue)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import User
from audit.models import AuditEntry
from provisioning.models import ProvisioningJob, ServerGroup
from provisioning.services import provisioning_job_run, server_create
from resale.models import (
    BalanceEntry,
    PriceList,
    ResellerAccount,
    UpstreamCommand,
    UpstreamService,
    WholesalePlan,
    WholesalePrice,
)
from resale.services import reseller_balance, reseller_balance_topup, upstream_command_accept
from tenants.models import Domain, Tenant
from tests.conftest import PASSWORD
from tests.resale.factories import account_on, wholesale_catalogue

pytestmark = pytest.mark.django_db


def _console(role: str = User.Role.OWNER) -> Client:
    user = User.objects.filter(email=f"{role}@provider.test").first() or User.objects.create_user(
        f"{role}@provider.test", PASSWORD, kind=User.Kind.STAFF, role=role, is_staff=True
    )
    browser = Client(HTTP_HOST=settings.PLATFORM_DOMAIN)
    browser.force_login(user)
    return browser


@pytest.fixture
def owner() -> Client:
    return _console()


@pytest.fixture
def account(tenant_a) -> ResellerAccount:
    catalogue = wholesale_catalogue(code_prefix="pc-")
    return account_on(tenant_a.tenant, catalogue["price_list"])


# --- pages ----------------------------------------------------------------------------------


def test_every_page_opens_for_the_provider_in_three_languages(owner, account):
    reseller_balance_topup(
        account=account, amount="1234.5", reference="wire", idempotency_key="pages"
    )
    plan = WholesalePlan.objects.get(code="pc-web-s")
    pages = [
        "/provider/",
        "/provider/resellers/",
        "/provider/resellers/new/",
        f"/provider/resellers/{account.public_id}/",
        "/provider/catalogue/",
        "/provider/catalogue/new/",
        f"/provider/catalogue/{plan.pk}/",
        "/provider/price-lists/",
        f"/provider/price-lists/{account.price_list_id}/",
        "/provider/operations/",
        "/provider/servers/",
    ]
    for language, amount, heading in (
        ("en", "€1,234.50", "Dashboard"),
        ("it", "1.234,50\xa0€", "Cruscotto"),
        ("ru", "1\xa0234,50\xa0€", "Сводка"),
    ):
        owner.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        for page in pages:
            response = owner.get(page)
            assert response.status_code == 200, (language, page)
        home = owner.get("/provider/").content.decode()
        assert heading in home
        assert {
            "en": "Prepaid balance held",
            "it": "Saldo prepagato detenuto",
            "ru": "Предоплаченные остатки",
        }[language] in home
        reseller_page = owner.get(f"/provider/resellers/{account.public_id}/").content.decode()
        # Babel, in the currency's precision: never "1234.5000 EUR".
        assert amount in reseller_page
        assert "1234.5000" not in reseller_page


def test_strangers_are_asked_to_log_in(tenant_a, account):
    anonymous = Client(HTTP_HOST=settings.PLATFORM_DOMAIN)
    response = anonymous.get("/provider/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")
    # A reseller's owner does not exist in the public schema.
    reseller_owner = Client(HTTP_HOST=settings.PLATFORM_DOMAIN)
    with schema_context(tenant_a.schema):
        reseller_owner.force_login(tenant_a.owner)
    response = reseller_owner.get(f"/provider/resellers/{account.public_id}/")
    assert response.status_code == 302


def test_an_unknown_reseller_is_a_404(owner):
    assert owner.get("/provider/resellers/nobody/").status_code == 404
    assert owner.post("/provider/resellers/nobody/status/", {"reason": "x"}).status_code == 404


# --- roles -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "moves_money", "manages_resellers", "runs_jobs"),
    [
        (User.Role.OWNER, True, True, True),
        (User.Role.ADMIN, True, True, True),
        (User.Role.BILLING, True, True, False),
        (User.Role.SUPPORT, False, False, True),
        (User.Role.READONLY, False, False, False),
    ],
)
def test_roles_decide_what_a_page_shows_and_allows(
    role, moves_money, manages_resellers, runs_jobs, account
):
    browser = _console(role)
    page = browser.get(f"/provider/resellers/{account.public_id}/").content.decode()
    assert ("Move money" in page) is moves_money
    assert ("Suspend" in page) is manages_resellers
    top_up = browser.post(
        f"/provider/resellers/{account.public_id}/balance/",
        {"kind": "topup", "amount": "10", "reason": "wire 1", "token": f"role-{role}"},
    )
    assert top_up.status_code == (302 if moves_money else 403)
    assert reseller_balance(account=account).amount == (10 if moves_money else 0)
    suspend = browser.post(
        f"/provider/resellers/{account.public_id}/status/",
        {"action": "suspend", "reason": "unpaid"},
    )
    assert suspend.status_code == (302 if manages_resellers else 403)
    retry = browser.post("/provider/operations/jobs/00000000-0000-0000-0000-000000000000/retry/")
    assert retry.status_code == (404 if runs_jobs else 403)


# --- resellers --------------------------------------------------------------------------------


def _new_reseller(browser: Client, **changes) -> object:
    price_list = PriceList.objects.get_or_create(name="Form list", defaults={"currency": "EUR"})[0]
    data = {
        "name": "Gamma Web",
        "legal_name": "Gamma Web S.r.l.",
        "address": "Via Milano 3, Torino",
        "country": "it",
        "vat_number": "IT11122233344",
        "billing_email": "accounts@gamma.test",
        "hostname": f"gamma.{settings.PLATFORM_DOMAIN}",
        "admin_email": "Boss@Gamma.test",
        "language": "it",
        "currency": "EUR",
        "price_list": price_list.pk,
        "credit_limit": "100",
        "opening_balance": "250",
        **changes,
    }
    return browser.post("/provider/resellers/new/", data)


def test_a_reseller_is_made_from_the_form_in_one_step(owner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = _new_reseller(owner)
    account = ResellerAccount.objects.get(legal_name="Gamma Web S.r.l.")
    assert response.status_code == 302
    assert response["Location"] == f"/provider/resellers/{account.public_id}/"
    assert account.tenant.name == "Gamma Web"
    assert account.tenant.default_language == "it"
    assert account.country == "IT"
    assert account.vat_number == "IT11122233344"
    assert account.price_list.name == "Form list"
    assert account.credit_limit == Decimal("100")
    assert reseller_balance(account=account).amount == Decimal("250")
    assert Domain.objects.get(tenant=account.tenant).domain == f"gamma.{settings.PLATFORM_DOMAIN}"
    with schema_context(account.tenant.schema_name):
        admin = User.objects.get(email="boss@gamma.test")
        assert admin.role == User.Role.OWNER
    invitation = next(m for m in mail.outbox if m.to == ["boss@gamma.test"])
    assert "/login/link/" in invitation.body
    # In the language the new site speaks.
    assert invitation.subject == "Il tuo sito Gamma Web è pronto"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"hostname": "alpha.platform.test"}, "already used"),
        ({"admin_email": "not-an-address"}, "Enter a valid email address"),
        ({"currency": "USD"}, "is in EUR, not in USD"),
        ({"credit_limit": "-5"}, "cannot be negative"),
        ({"opening_balance": "lots"}, "Enter a number with the digits 0-9"),
        ({"hostname": "bad host!"}, "not a valid host name"),
    ],
)
def test_bad_input_is_said_and_changes_nothing(owner, tenant_a, changes, message, settings):
    if changes.get("hostname") == "alpha.platform.test":
        changes["hostname"] = tenant_a.host
    before = Tenant.objects.count()
    response = _new_reseller(owner, **changes)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Tenant.objects.count() == before


def test_the_command_and_the_form_share_one_validation(tenant_a):
    from django.core.management import CommandError, call_command

    PriceList.objects.get_or_create(name="Dollar list", defaults={"currency": "USD"})
    with pytest.raises(CommandError, match="is in USD, not in EUR"):
        call_command(
            "create_reseller",
            name="Delta",
            domain=f"delta.{settings.PLATFORM_DOMAIN}",
            admin_email="a@delta.test",
            price_list="Dollar list",
        )
    with pytest.raises(CommandError, match="already used"):
        call_command("create_reseller", name="Delta", domain=tenant_a.host, admin_email="a@d.test")
    assert not Tenant.objects.filter(name="Delta").exists()


def test_suspension_shows_the_unavailable_page_and_commands_wait(owner, tenant_a, account):
    reseller_balance_topup(account=account, amount="50", reference="w", idempotency_key="s1")
    response = owner.post(
        f"/provider/resellers/{account.public_id}/status/",
        {"action": "suspend", "reason": "contract ended"},
    )
    assert response.status_code == 302
    storefront = Client(HTTP_HOST=tenant_a.host).get("/")
    assert storefront.status_code == 503
    waiting = upstream_command_accept(
        account=account,
        idempotency_key="while-suspended",
        action="create",
        payload={"plan": "pc-web-s", "cycle": "monthly", "client_ref": "c_1"},
    )
    assert waiting.status == "awaiting_funds"
    assert waiting.response["code"] == "account_suspended"
    assert not UpstreamService.objects.filter(account=account).exists()
    audit = AuditEntry.objects.get(action="reseller.suspended", object_id=str(account.pk))
    assert audit.after["reason"] == "contract ended"

    owner.post(
        f"/provider/resellers/{account.public_id}/status/",
        {"action": "reactivate", "reason": "paid"},
    )
    assert Client(HTTP_HOST=tenant_a.host).get("/").status_code == 200
    sent_again = upstream_command_accept(
        account=account,
        idempotency_key="while-suspended",
        action="create",
        payload={"plan": "pc-web-s", "cycle": "monthly", "client_ref": "c_1"},
    )
    assert sent_again.status == "accepted"


def test_terms_change_is_audited_and_a_foreign_currency_list_refused(owner, account):
    usd = PriceList.objects.create(name="USD list", currency="USD")
    refused = owner.post(
        f"/provider/resellers/{account.public_id}/terms/",
        {"credit_limit": "20", "low_balance_threshold": "5", "price_list": usd.pk},
        follow=True,
    )
    assert "the account is kept in EUR" in refused.content.decode()
    account.refresh_from_db()
    assert account.credit_limit == 0
    owner.post(
        f"/provider/resellers/{account.public_id}/terms/",
        {"credit_limit": "20", "low_balance_threshold": "5", "price_list": account.price_list_id},
    )
    account.refresh_from_db()
    assert account.credit_limit == Decimal("20")
    entry = AuditEntry.objects.get(action="reseller.terms_changed", object_id=str(account.pk))
    assert entry.before["credit_limit"]["amount"] == "0.00"
    assert entry.after["credit_limit"]["amount"] == "20.00"


def test_ledger_filter_csv_and_reversal_once(owner, account):
    reseller_balance_topup(account=account, amount="80", reference="wire 9", idempotency_key="l1")
    entry = BalanceEntry.objects.get(account=account, idempotency_key="l1")
    page = owner.get(f"/provider/resellers/{account.public_id}/?kind=refund").content.decode()
    assert "wire 9" not in page
    csv_text = owner.get(f"/provider/resellers/{account.public_id}/ledger.csv").content.decode()
    assert "topup,80.00,EUR,Top-up wire 9" in csv_text
    path = f"/provider/resellers/{account.public_id}/entries/{entry.pk}/reverse/"
    assert owner.post(path, {"reason": ""}).status_code == 302
    assert reseller_balance(account=account).amount == Decimal("80")
    owner.post(path, {"reason": "sent to the wrong reseller"})
    owner.post(path, {"reason": "twice"})
    assert reseller_balance(account=account).amount == 0
    assert BalanceEntry.objects.filter(account=account).count() == 2
    page = owner.get(f"/provider/resellers/{account.public_id}/").content.decode()
    assert "Reversed" in page
    # The ledger page offers no edit or delete of a row, only the reversal.
    assert "Delete" not in page


def test_credential_is_shown_once(owner, account):
    owner.post(f"/provider/resellers/{account.public_id}/credentials/", {"name": "remote"})
    first = owner.get(f"/provider/resellers/{account.public_id}/").content.decode()
    assert "tsr_" in first
    second = owner.get(f"/provider/resellers/{account.public_id}/").content.decode()
    assert "tsr_" not in second


# --- catalogue ---------------------------------------------------------------------------------


def test_plan_from_a_form_with_choices_and_the_import_preview(owner, account):
    price_list = account.price_list
    form = owner.get("/provider/catalogue/new/").content.decode()
    assert '<option value="simulated"' in form  # the module registry, not free text
    response = owner.post(
        "/provider/catalogue/new/",
        {
            "code": "pc-mail",
            "name": "Mail Pro",
            "description": "",
            "product_type": "shared",
            "module": "simulated",
            "package": "mail",
            "domain_policy": "none",
            "is_active": "on",
            "prices-TOTAL_FORMS": "2",
            "prices-INITIAL_FORMS": "0",
            "prices-0-price_list": price_list.pk,
            "prices-0-cycle": "monthly",
            "prices-0-price": "3.10",
            "prices-0-setup_fee": "0",
            "prices-1-price_list": "",
        },
    )
    plan = WholesalePlan.objects.get(code="pc-mail")
    assert response.status_code == 302
    assert WholesalePrice.objects.get(plan=plan).price_amount == Decimal("3.10")
    page = owner.get(f"/provider/catalogue/{plan.pk}/").content.decode()
    # 3.10 + 30 % = 4.03, rounded up to .99.
    assert "€4.99" in page
    unknown_module = owner.post(
        "/provider/catalogue/new/",
        {
            "code": "pc-bad",
            "name": "Bad",
            "product_type": "shared",
            "module": "nonsense",
            "prices-TOTAL_FORMS": "0",
            "prices-INITIAL_FORMS": "0",
        },
    )
    assert unknown_module.status_code == 200
    assert not WholesalePlan.objects.filter(code="pc-bad").exists()


def test_a_plan_change_bumps_its_version(owner, account):
    plan = WholesalePlan.objects.get(code="pc-web-s")
    prices = list(plan.prices.all())
    data = {
        "name": "Web S+",
        "description": "",
        "product_type": "shared",
        "module": "simulated",
        "package": "web-s",
        "domain_policy": "none",
        "is_active": "on",
        "prices-TOTAL_FORMS": str(len(prices)),
        "prices-INITIAL_FORMS": "0",
    }
    for index, price in enumerate(prices):
        data |= {
            f"prices-{index}-price_list": price.price_list_id,
            f"prices-{index}-cycle": price.cycle,
            f"prices-{index}-price": str(price.price_amount),
            f"prices-{index}-setup_fee": "0",
        }
    assert owner.post(f"/provider/catalogue/{plan.pk}/", data).status_code == 302
    plan.refresh_from_db()
    assert (plan.name, plan.version) == ("Web S+", 2)


def test_price_list_currency_from_a_list(owner):
    assert (
        owner.post("/provider/price-lists/", {"name": "Swiss", "currency": "CHF"}).status_code
        == 302
    )
    assert PriceList.objects.get(name="Swiss").currency == "CHF"
    refused = owner.post("/provider/price-lists/", {"name": "Bad", "currency": "XXL"})
    assert refused.status_code == 200
    assert not PriceList.objects.filter(name="Bad").exists()


# --- operations ---------------------------------------------------------------------------------


def _failing_order(account: ResellerAccount, key: str, *, max_attempts: int) -> ProvisioningJob:
    """An order accepted and debited whose panel job fails (the panel always errs)."""
    group = ServerGroup.objects.get_or_create(name="ops-sim", module="simulated")[0]
    if not group.servers.exists():
        server_create(
            group=group,
            name="ops-node",
            hostname="ops-node.panel.test",
            port=443,
            extra={"failure_rate": 1.0},
        )
    result = upstream_command_accept(
        account=account,
        idempotency_key=key,
        action="create",
        payload={"plan": "pc-web-s", "cycle": "monthly", "client_ref": f"c_{key}"},
    )
    service = UpstreamService.objects.get(public_id=result.response["service_ref"])
    job = ProvisioningJob.objects.get(service__upstream_service_id=service.pk)
    ProvisioningJob.objects.filter(pk=job.pk).update(max_attempts=max_attempts)
    provisioning_job_run(job_id=job.pk)
    job.refresh_from_db()
    return job


def _panel_works() -> None:
    server = ServerGroup.objects.get(name="ops-sim").servers.get()
    server.extra = {}
    server.save()


def test_a_failed_order_is_in_the_queue_and_retry_completes_it(owner, account):
    reseller_balance_topup(account=account, amount="10", reference="w", idempotency_key="o1")
    job = _failing_order(account, "ops-retry", max_attempts=1)
    assert job.state == ProvisioningJob.State.FAILED
    # Failing at once refunded the order.
    assert reseller_balance(account=account).amount == Decimal("10")
    queue = owner.get("/provider/operations/").content.decode()
    assert str(job.public_id)[:10] in queue
    assert "Gave up after 1 attempts" in queue

    _panel_works()
    assert owner.post(f"/provider/operations/jobs/{job.public_id}/retry/").status_code == 302
    # Run again, it is paid for again.
    assert reseller_balance(account=account).amount == Decimal("7.50")
    provisioning_job_run(job_id=job.pk)
    service = UpstreamService.objects.get(pk=job.service.upstream_service_id)
    assert service.status == UpstreamService.Status.ACTIVE
    assert str(job.public_id)[:10] not in owner.get("/provider/operations/").content.decode()


def test_cancel_refunds_exactly_once(owner, account):
    reseller_balance_topup(account=account, amount="10", reference="w", idempotency_key="o2")
    job = _failing_order(account, "ops-cancel", max_attempts=5)
    assert job.state == ProvisioningJob.State.QUEUED  # failing, to be retried
    assert reseller_balance(account=account).amount == Decimal("7.50")
    queue = owner.get("/provider/operations/").content.decode()
    assert "Failing, retried" in queue
    assert "Cancel and refund" in queue

    path = f"/provider/operations/jobs/{job.public_id}/cancel/"
    assert owner.post(path, {"reason": ""}).status_code == 302
    assert reseller_balance(account=account).amount == Decimal("7.50")
    done = owner.post(path, {"reason": "customer gave up"}, follow=True).content.decode()
    assert "refunded to the reseller" in done
    again = owner.post(path, {"reason": "twice"}, follow=True).content.decode()
    assert "already cancelled" in again
    assert reseller_balance(account=account).amount == Decimal("10")
    assert BalanceEntry.objects.filter(account=account, kind="refund").count() == 1
    job.refresh_from_db()
    assert job.state == ProvisioningJob.State.FAILED
    assert str(job.public_id)[:10] not in owner.get("/provider/operations/").content.decode()


def test_a_failed_reseller_command_is_in_the_queue_and_sent_again(owner, tenant_a, account):
    with schema_context(tenant_a.schema):
        command = UpstreamCommand.objects.create(
            action="suspend",
            service_ref="svc-1",
            idempotency_key="ops-cmd-1",
            state=UpstreamCommand.State.FAILED,
            last_error="Cannot suspend a service that is terminated.",
        )
    queue = owner.get("/provider/operations/").content.decode()
    assert "Cannot suspend a service that is terminated." in queue
    path = f"/provider/operations/commands/{account.public_id}/{command.public_id}/retry/"
    assert owner.post(path).status_code == 302
    with schema_context(tenant_a.schema):
        command.refresh_from_db()
        assert command.state == UpstreamCommand.State.PENDING
    # Another reseller's command under this reseller's name is not found.
    other = ResellerAccount.objects.exclude(pk=account.pk).first()
    foreign = f"/provider/operations/commands/{other.public_id}/{command.public_id}/retry/"
    assert owner.post(foreign).status_code == 404


def test_no_ledger_like_row_can_be_deleted_in_the_admin(owner, account):
    reseller_balance_topup(account=account, amount="10", reference="w", idempotency_key="adm")
    result = upstream_command_accept(
        account=account,
        idempotency_key="adm-create",
        action="create",
        payload={"plan": "pc-web-s", "cycle": "monthly", "client_ref": "c_adm"},
    )
    service = UpstreamService.objects.get(public_id=result.response["service_ref"])
    request = service.requests.get()
    for model, row in (("upstreamservice", service), ("upstreamrequest", request)):
        listing = owner.get(f"/admin/resale/{model}/").content.decode()
        assert "delete_selected" not in listing
        assert owner.get(f"/admin/resale/{model}/{row.pk}/delete/").status_code == 403


def test_servers_with_their_load_and_a_connection_test(owner):
    group = ServerGroup.objects.create(name="page-sim", module="simulated")
    server = server_create(
        group=group, name="page-node", hostname="page-node.panel.test", port=443, capacity=4
    )
    page = owner.get("/provider/servers/").content.decode()
    assert "page-node" in page
    assert "0 / 4" in page
    tested = owner.post("/provider/servers/", {"server": server.pk}, follow=True)
    assert "page-node:" in tested.content.decode()
    assert owner.post("/provider/servers/", {"server": "x"}).status_code == 404
    assert (
        _console(User.Role.READONLY).post("/provider/servers/", {"server": server.pk}).status_code
        == 403
    )


def test_the_admin_makes_no_reseller_without_its_site(owner):
    assert owner.get("/admin/resale/reselleraccount/add/").status_code == 403


def test_provider_staff_set_up_two_factor_first_when_the_provider_requires_it(owner, settings):
    settings.PROVIDER_REQUIRE_2FA = True
    response = owner.get("/provider/")
    assert response.status_code == 302
    assert response["Location"].startswith("/auth/2fa/")


def test_the_console_language_is_chosen_and_stays_on_this_host(owner):
    response = owner.post("/provider/language/", {"language": "ru", "next": "/provider/resellers/"})
    assert response["Location"] == "/provider/resellers/"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ru"
    assert "Реселлеры" in owner.get("/provider/resellers/").content.decode()
    elsewhere = owner.post("/provider/language/", {"language": "it", "next": "https://evil.test/"})
    assert elsewhere["Location"] == "/provider/"
