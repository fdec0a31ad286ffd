from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from resale.onboarding import reseller_create
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Creates a reseller: its tenant, domain, account at the provider and first admin."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="Display and legal name")
        parser.add_argument("--domain", required=True, help="Host name, e.g. acme.localhost")
        parser.add_argument("--admin-email", required=True)
        parser.add_argument("--schema", default=None, help="Schema name (default: from domain)")
        parser.add_argument(
            "--kind",
            default=Tenant.Kind.RESELLER,
            choices=[Tenant.Kind.RESELLER, Tenant.Kind.RETAIL],
        )
        parser.add_argument("--language", default="en", choices=["en", "it", "ru"])

    def handle(self, *args, **options):
        try:
            created = reseller_create(
                name=options["name"],
                hostname=options["domain"],
                admin_email=options["admin_email"],
                schema_name=options["schema"],
                kind=options["kind"],
                default_language=options["language"],
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(self.style.SUCCESS(f"Created {created.tenant.name}"))
        self.stdout.write(f"  schema:     {created.tenant.schema_name}")
        self.stdout.write(f"  portal:     {created.portal_url}")
        self.stdout.write(f"  login link: {created.login_url}  (works once)")
