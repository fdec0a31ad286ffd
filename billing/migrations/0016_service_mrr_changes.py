"""The record of each service's MRR changes, started for the services that exist: a
running one earns its current price from its activation (or registration); a cancelled or
terminated one earned it until it stopped. Earlier plan changes left no trace, so the
current price stands for the whole of a service's past."""

from decimal import Decimal

import django.db.models.deletion
from django.db import migrations, models

from billing.money import round_money

CYCLE_MONTHS = {
    "monthly": 1,
    "quarterly": 3,
    "semiannual": 6,
    "annual": 12,
    "biennial": 24,
    "triennial": 36,
}


def _mrr(service) -> Decimal:
    return round_money(
        service.recurring_amount / CYCLE_MONTHS[service.billing_cycle], service.currency
    )


def backfill(apps, schema_editor):
    Service = apps.get_model("billing", "Service")
    ServiceMrrChange = apps.get_model("billing", "ServiceMrrChange")
    rows = []
    for service in Service.objects.exclude(billing_cycle="one_time").exclude(status="pending"):
        mrr = _mrr(service)
        started = service.activated_at.date() if service.activated_at else None
        started = started or service.registration_date
        if not mrr:
            continue
        common = {"service_id": service.pk, "currency": service.currency}
        rows.append(
            ServiceMrrChange(on_date=started, mrr_before_amount=0, mrr_after_amount=mrr, **common)
        )
        stopped = service.cancelled_at or service.terminated_at
        if service.status in ("cancelled", "terminated"):
            rows.append(
                ServiceMrrChange(
                    on_date=stopped.date() if stopped else started,
                    mrr_before_amount=mrr,
                    mrr_after_amount=0,
                    **common,
                )
            )
    ServiceMrrChange.objects.bulk_create(rows)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0015_order_terms_acceptance"),
    ]

    operations = [
        migrations.CreateModel(
            name="ServiceMrrChange",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("on_date", models.DateField()),
                ("currency", models.CharField(max_length=3)),
                (
                    "mrr_before_amount",
                    models.DecimalField(decimal_places=4, default=Decimal("0"), max_digits=14),
                ),
                (
                    "mrr_after_amount",
                    models.DecimalField(decimal_places=4, default=Decimal("0"), max_digits=14),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "service",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="mrr_changes",
                        to="billing.service",
                    ),
                ),
            ],
            options={
                "ordering": ["on_date", "id"],
                "indexes": [models.Index(fields=["on_date"], name="billing_mrrchange_date_idx")],
            },
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, hints={"model_name": "service"}),
    ]
