from datetime import date
from decimal import Decimal

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from resale.api import resale_credential_issue
from resale.models import BalanceEntry, WholesaleInvoice
from resale.services import reseller_balance_topup, upstream_command_accept
from resale.statements import (
    reseller_statement,
    wholesale_invoice_issue,
    wholesale_invoices_issue_month,
)
from tests.resale.factories import account_on, wholesale_catalogue

pytestmark = pytest.mark.django_db


@pytest.fixture
def charged_account(tenant_a):
    account = account_on(tenant_a.tenant, wholesale_catalogue()["price_list"])
    account.country, account.vat_number = "IT", "IT11111111111"
    account.save()
    reseller_balance_topup(account=account, amount="30", reference="x", idempotency_key="t")
    for index, plan in enumerate(["web-s", "web-m", "vps-1"]):
        upstream_command_accept(
            account=account,
            idempotency_key=f"o{index}",
            action="create",
            payload={"plan": plan, "cycle": "monthly", "client_ref": "c"},
        )
    return account


def test_statement_adds_up(charged_account):
    today = timezone.localdate()
    statement = reseller_statement(account=charged_account, year=today.year, month=today.month)
    assert statement.opening.amount == 0
    assert statement.closing.amount == Decimal("16.50")  # 30 − 2.50 − 4.00 − 7.00
    assert len(statement.entries) == 4


def test_wholesale_invoice_is_numbered_in_the_providers_sequence(charged_account, tenant_b):
    today = timezone.localdate()
    invoice = wholesale_invoice_issue(
        account=charged_account, year=today.year, month=today.month, issue_date=date(2026, 12, 1)
    )
    again = wholesale_invoice_issue(account=charged_account, year=today.year, month=today.month)
    assert again.pk == invoice.pk
    assert invoice.number == "W2026/00001"
    assert invoice.subtotal_amount == Decimal("13.50")
    assert invoice.tax_amount == Decimal("2.97")  # 22 % Italian VAT between Italian firms
    assert invoice.seller["name"] == settings.PROVIDER_LEGAL_NAME
    assert invoice.buyer["name"] == charged_account.legal_name
    assert len(invoice.lines) == 3
    # Top-ups are prepayments, not charges: a month with none of these has no invoice.
    assert wholesale_invoices_issue_month(year=2001, month=1) == 0
    assert not WholesaleInvoice.objects.exclude(pk=invoice.pk).exists()
    assert BalanceEntry.objects.filter(account=charged_account).count() == 4


def test_statement_over_the_resale_api(charged_account):
    _, token = resale_credential_issue(account=charged_account, name="remote")
    today = timezone.localdate()
    browser = Client(HTTP_HOST=settings.PLATFORM_DOMAIN, HTTP_AUTHORIZATION=f"Bearer {token}")
    body = browser.get(f"/api/resale/v1/statements/{today.year}-{today.month}/").json()
    assert body["closing_balance"] == "16.5000"
    assert browser.get(f"/api/resale/v1/statements/{today.year}-13/").status_code == 404


def test_a_reseller_elsewhere_in_the_eu_is_reverse_charged_once_vies_confirms_it(
    charged_account, vies
):
    today = timezone.localdate()
    charged_account.country, charged_account.vat_number = "DE", "DE136695976"
    charged_account.save()
    invoice = wholesale_invoice_issue(account=charged_account, year=today.year, month=today.month)
    assert invoice.reverse_charge and invoice.tax_amount == 0
    assert invoice.tax_note == "Reverse charge — Article 196 of Directive 2006/112/EC"
    assert invoice.buyer["tax"]["vies"]["status"] == "valid"
    assert invoice.buyer["tax"]["decisions"][0]["category"] == "AE"


def test_a_reseller_number_vies_does_not_confirm_pays_vat(charged_account, vies):
    today = timezone.localdate()
    vies.faults["DE"] = "MS_UNAVAILABLE"
    charged_account.country, charged_account.vat_number = "DE", "DE136695976"
    charged_account.save()
    invoice = wholesale_invoice_issue(account=charged_account, year=today.year, month=today.month)
    assert not invoice.reverse_charge
    assert invoice.tax_amount == Decimal("2.57")  # 13.50 at Germany's 19 %
