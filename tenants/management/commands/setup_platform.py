from django.core.management import call_command
from django.core.management.base import BaseCommand

from tenants.models import Tenant
from tenants.services import platform_ensure, template_schema_migrate


class Command(BaseCommand):
    help = (
        "Migrates the public schema, the tenant template and every tenant, and makes sure "
        "the platform tenant exists. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--platform-domain", default=None)

    def handle(self, *args, **options):
        verbosity = options["verbosity"]
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=verbosity)
        template_schema_migrate(verbosity=verbosity)
        if Tenant.objects.exclude(schema_name="public").exists():
            call_command("migrate_schemas", tenant=True, interactive=False, verbosity=verbosity)
        platform = platform_ensure(hostname=options["platform_domain"])
        self.stdout.write(self.style.SUCCESS(f"Platform ready: {platform.name}"))
