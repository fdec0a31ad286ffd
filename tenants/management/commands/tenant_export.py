from django.core.management.base import BaseCommand, CommandError

from tenants.backup import BackupError, tenant_export


class Command(BaseCommand):
    help = (
        "Writes one tenant to a tar file: pg_dump of its schema, its media folder and a "
        "manifest with its Tenant and Domain rows."
    )

    def add_arguments(self, parser):
        parser.add_argument("--schema", required=True, help="The tenant's schema name")
        parser.add_argument("--out", required=True, help="The tar file to write")

    def handle(self, *args, **options):
        try:
            path = tenant_export(schema_name=options["schema"], out=options["out"])
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Exported {options['schema']} to {path}"))
