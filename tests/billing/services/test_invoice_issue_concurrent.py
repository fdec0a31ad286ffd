"""Gapless numbering with real concurrent, committed transactions."""

from __future__ import annotations

import re

import pytest
from django.db import transaction
from django_tenants.utils import schema_context

from billing import services
from billing.models import Invoice
from tests.billing.conftest import eur
from tests.billing.live import run_together

THREADS = 8
PER_THREAD = 4


class Abort(Exception):
    pass


@pytest.fixture
def live_tenant(tenant_factory):
    created = tenant_factory(name="Numbering Hosting")
    schema = created.tenant.schema_name
    with schema_context(schema):
        services.billing_settings_update(country="IT", invoice_number_format="{year}-{seq:04d}")
        client = services.client_create(name="Ada", email="ada@example.test", country="IT")
    return schema, client


def _drafts(client, count: int) -> list[Invoice]:
    drafts = []
    for _ in range(count):
        draft = services.invoice_create(client=client)
        services.invoice_line_add(invoice=draft, description="Hosting", unit_price=eur(10))
        drafts.append(draft)
    return drafts


def test_concurrent_issues_never_skip_nor_repeat_a_number(live_tenant):
    schema, _ = live_tenant
    # A client per thread: issuing locks the client row, which would serialise the
    # threads before they ever reach the number sequence.
    with schema_context(schema):
        batches = [
            _drafts(
                services.client_create(name=f"C{i}", email=f"c{i}@example.test", country="IT"),
                PER_THREAD,
            )
            for i in range(THREADS)
        ]

    def issuer(batch: list[Invoice]):
        def call():
            return [services.invoice_issue(invoice=draft).number for draft in batch]

        return call

    results = run_together(schema, [issuer(batch) for batch in batches])
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors

    with schema_context(schema):
        numbers = list(Invoice.objects.values_list("number", flat=True))
    sequence = sorted(int(re.match(r"\d{4}-(\d{4})$", n).group(1)) for n in numbers)
    assert sequence == list(range(1, THREADS * PER_THREAD + 1))


def test_a_rolled_back_issue_gives_its_number_back(live_tenant):
    schema, client = live_tenant
    with schema_context(schema):
        first, second, third = _drafts(client, 3)
        services.invoice_issue(invoice=first)

    def issue_then_fail():
        with transaction.atomic():
            services.invoice_issue(invoice=second)
            raise Abort

    def issue():
        return services.invoice_issue(invoice=third).number

    results = run_together(schema, [issue_then_fail, issue])
    assert isinstance(results[0], Abort)
    with schema_context(schema):
        second.refresh_from_db()
        assert second.status == Invoice.Status.DRAFT and second.number == ""
        assert results[1].endswith("-0002")
        assert services.invoice_issue(invoice=second).number.endswith("-0003")


# Besides its own check, this test makes pytest-django create the test database when
# this module runs alone (it sets up databases only for tests marked django_db).
@pytest.mark.django_db
def test_numbers_restart_each_year_when_the_tenant_says_so(in_tenant_a):
    from datetime import date

    services.billing_settings_update(number_reset="yearly", invoice_number_format="{year}/{seq}")
    client = services.client_create(name="Ada", email="ada@example.test", country="IT")
    first, second, third = _drafts(client, 3)
    assert services.invoice_issue(invoice=first, issue_date=date(2030, 12, 31)).number == ("2030/1")
    assert services.invoice_issue(invoice=second, issue_date=date(2031, 1, 1)).number == "2031/1"
    assert services.invoice_issue(invoice=third, issue_date=date(2031, 1, 2)).number == "2031/2"
