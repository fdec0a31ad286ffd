from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from tenants.backup import BackupError, tenant_import


class Command(BaseCommand):
    help = "Restores a tenant written by tenant_export, optionally under a new schema and host."

    def add_arguments(self, parser):
        parser.add_argument("--file", required=True, help="The tar file from tenant_export")
        parser.add_argument("--schema", default=None, help="Schema name (default: the original)")
        parser.add_argument(
            "--domain", default=None, help="Host name replacing the exported domains"
        )

    def handle(self, *args, **options):
        try:
            tenant = tenant_import(
                archive_path=options["file"],
                schema_name=options["schema"],
                domain=options["domain"],
            )
        except (BackupError, ValidationError) as exc:
            raise CommandError(" ".join(getattr(exc, "messages", [str(exc)]))) from exc
        self.stdout.write(
            self.style.SUCCESS(f"Imported {tenant.name} into schema {tenant.schema_name}")
        )
