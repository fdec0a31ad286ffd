"""The single-column indexes Django adds to many-to-many tables, where the unique pair
already starts with that column."""

from django.db import migrations

from tenants.schema_ops import drop_indexes


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0006_unused_indexes"),
    ]

    operations = [
        drop_indexes(
            {
                "billing_coupon_plans_coupon_id_a08fd151": "billing_coupon_plans (coupon_id)",
                "billing_plan_configurable_options_plan_id_6e0018c7": (
                    "billing_plan_configurable_options (plan_id)"
                ),
            }
        ),
    ]
