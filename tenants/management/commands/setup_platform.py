from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from tenants.models import Tenant
from tenants.services import platform_ensure, template_schema_migrate


class Command(BaseCommand):
    help = (
        "Migrates the public schema, the tenant template and every tenant not yet at the "
        "code's migrations (in parallel, each tenant on its own: one that fails is named and "
        "the others go on), and makes sure the platform tenant exists. Safe to run again: "
        "a second run finishes what a failed one left."
    )

    def add_arguments(self, parser):
        parser.add_argument("--platform-domain", default=None)
        parser.add_argument(
            "--parallel",
            type=int,
            default=None,
            help="Tenant migrations at once (default: TESSERA_MIGRATION_WORKERS).",
        )

    def handle(self, *args, **options):
        verbosity = options["verbosity"]
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=verbosity)
        template_schema_migrate(verbosity=verbosity)
        failed: CommandError | None = None
        if Tenant.objects.exclude(schema_name="public").exists():
            try:
                call_command(
                    "migrate_schemas",
                    tenant=True,
                    interactive=False,
                    verbosity=verbosity,
                    parallel=options["parallel"],
                )
            except CommandError as exc:
                # The tenants that failed are named; the platform is still made ready.
                failed = exc
        platform = platform_ensure(hostname=options["platform_domain"])
        if failed is not None:
            raise failed
        self.stdout.write(self.style.SUCCESS(f"Platform ready: {platform.name}"))
