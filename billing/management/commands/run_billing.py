from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import get_tenant_model, schema_context
from tqdm import tqdm

from billing.billing_run import billing_run, renewals_due_count


class Command(BaseCommand):
    help = (
        "Runs the billing run (renewals, reminders, overdue, suspension, termination) for "
        "every active tenant, or one. Safe to run twice for the same date."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", help="Run as of this date (YYYY-MM-DD); default today")
        parser.add_argument("--tenant", help="Schema name of one tenant")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **options):
        run_date = None
        if options["date"]:
            try:
                run_date = date.fromisoformat(options["date"])
            except ValueError as exc:
                raise CommandError(f"“{options['date']}” is not a date like 2026-01-31.") from exc
        tenants = get_tenant_model().objects.exclude(schema_name="public").filter(status="active")
        if options["tenant"]:
            tenants = tenants.filter(schema_name=options["tenant"])
            if not tenants.exists():
                raise CommandError(f"No active tenant with the schema “{options['tenant']}”.")
        for tenant in tenants.order_by("schema_name"):
            with schema_context(tenant.schema_name):
                due = renewals_due_count(run_date=run_date or date.today())
                bar = tqdm(
                    total=due,
                    desc=tenant.schema_name,
                    unit="service",
                    disable=options["no_progress"],
                    leave=False,
                )
                result = billing_run(
                    run_date=run_date, progress=lambda _step, count, bar=bar: bar.update(count)
                )
                bar.close()
            summary = ", ".join(
                f"{key} {value}"
                for key, value in result.as_dict().items()
                if key not in {"schema", "date"}
            )
            self.stdout.write(f"{tenant.schema_name} {result.run_date}: {summary}")
