"""The lists the console and the tenant API both read: what each one holds and how it
narrows."""

from __future__ import annotations

import pytest

from billing import selectors, services
from billing.models import Invoice
from tests.billing.conftest import eur, invoice_for

pytestmark = pytest.mark.django_db


def test_the_client_search_matches_name_company_or_email(shop):
    assert set(selectors.client_list()) == {shop.client, shop.business_de, shop.exempt}
    assert list(selectors.client_list(search=" weber gmbh ")) == [shop.business_de]
    assert list(selectors.client_list(search="MARIO@")) == [shop.client]
    assert list(selectors.client_list(search="Rossi")) == [shop.client]
    assert not selectors.client_list(search="nobody").exists()


def test_the_invoice_list_narrows_by_client_and_status_with_its_lines_in_order(shop):
    issued = invoice_for(shop.client, ("Second", eur(2)), ("First", eur(1)))
    draft = invoice_for(shop.business_de, ("Draft work", eur(5)), issue=False)
    assert set(selectors.invoice_list()) == {issued, draft}
    assert list(selectors.invoice_list(client=shop.client)) == [issued]
    assert list(selectors.invoice_list(statuses=list(Invoice.OPEN_STATUSES))) == [issued]
    listed = selectors.invoice_list(statuses=[Invoice.Status.DRAFT]).get()
    assert [line.description for line in listed.lines.all()] == ["Draft work"]
    note = services.credit_note_issue(invoice=issued, reason="Refund", idempotency_key="k1")
    assert list(selectors.credit_note_list(invoice=issued)) == [note]
    assert not selectors.credit_note_list(invoice=draft).exists()


def test_the_service_and_order_lists_narrow_by_status(shop):
    active = services.service_create(
        client=shop.client, plan=shop.starter, cycle="monthly", status="active"
    )
    services.service_create(client=shop.client, plan=shop.pro, cycle="monthly", status="pending")
    assert list(selectors.service_list(status="active")) == [active]
    assert selectors.service_list().count() == 2
    assert not selectors.order_list(status="pending").exists()
