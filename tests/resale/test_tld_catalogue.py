"""The provider's TLD prices and a reseller's import of them: marked up like plans (one to
three years of registration, transfer, renewal and restore), a change at the provider
bumps the TLD's version and tells the reseller's staff without repricing anything, and
an import of a TLD the provider does not sell is refused."""

from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django_tenants.utils import schema_context

from billing.models import DomainPrice, PlanPrice
from resale.catalogue_import import CatalogueImportError, Markup, wholesale_tlds_import
from resale.models import WholesaleTld
from resale.tasks import wholesale_tld_changed_task
from resale.wholesale import TldPriceRow, wholesale_tld_save
from tests.resale.domain_flow import domain_world


def test_tld_import_markup_and_announced_changes(tenant_factory):
    with domain_world(tenant_factory, "TLD Shop") as dworld:
        with schema_context(dworld.schema):
            prices = {
                p.cycle: p.price_amount for p in PlanPrice.objects.filter(plan=dworld.domain_plan)
            }
            # 8.00 a year + 25 %, rounded up to .99; two and three years at that price.
            assert prices == {
                "annual": Decimal("10.99"),
                "biennial": Decimal("21.98"),
                "triennial": Decimal("32.97"),
            }
            extra = DomainPrice.objects.get(plan=dworld.domain_plan)
            assert (extra.transfer_amount, extra.renew_amount, extra.restore_amount) == (
                Decimal("8.99"),
                Decimal("11.99"),
                Decimal("50.99"),
            )
            assert dworld.domain_plan.upstream_plan_ref == f"tld:{dworld.tld}"
            with pytest.raises(CatalogueImportError):
                wholesale_tlds_import(
                    tenant=dworld.world.account.tenant, tlds=["nope"], markup=Markup()
                )
        connection.set_schema_to_public()

        tld = wholesale_tld_save(
            tld=dworld.tld,
            prices=[
                TldPriceRow(
                    price_list=dworld.world.account.price_list,
                    register=Decimal("9.00"),
                    transfer=Decimal("7.00"),
                    renew=Decimal("9.00"),
                    restore=Decimal("40.00"),
                )
            ],
        )
        assert WholesaleTld.objects.get(pk=tld.pk).version == 2
        with schema_context(dworld.schema):
            mail.outbox.clear()
            assert wholesale_tld_changed_task.run(dworld.tld, True, 2) is True
            assert len(mail.outbox) == 1 and f".{dworld.tld}" in mail.outbox[0].subject
            # Nothing repriced behind the reseller's back.
            assert PlanPrice.objects.get(plan=dworld.domain_plan, cycle="annual").price_amount == (
                Decimal("10.99")
            )
        connection.set_schema_to_public()
