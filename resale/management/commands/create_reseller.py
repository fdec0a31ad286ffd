from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from resale.models import PriceList
from resale.onboarding import ResellerTerms, reseller_create
from tenants.models import Tenant


def _amount(value: str) -> Decimal:
    try:
        return Decimal(value)
    except InvalidOperation as exc:
        raise CommandError(f"“{value}” is not an amount such as 50 or 12.50.") from exc


class Command(BaseCommand):
    help = "Creates a reseller: its tenant, domain, account at the provider and first admin."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="Display name")
        parser.add_argument("--domain", required=True, help="Host name, e.g. acme.localhost")
        parser.add_argument("--admin-email", required=True)
        parser.add_argument("--schema", default=None, help="Schema name (default: from domain)")
        parser.add_argument(
            "--kind",
            default=Tenant.Kind.RESELLER,
            choices=[Tenant.Kind.RESELLER, Tenant.Kind.RETAIL],
        )
        parser.add_argument("--language", default="en", choices=["en", "it", "ru"])
        parser.add_argument("--legal-name", default="", help="Default: the display name")
        parser.add_argument("--address", default="")
        parser.add_argument("--country", default="", help="Two-letter ISO code")
        parser.add_argument("--vat-number", default="")
        parser.add_argument("--billing-email", default="")
        parser.add_argument("--currency", default="EUR")
        parser.add_argument("--price-list", default="", help="Name of a wholesale price list")
        parser.add_argument("--credit-limit", default="0")
        parser.add_argument("--opening-balance", default="0")

    def handle(self, *args, **options):
        price_list_id = None
        if options["price_list"]:
            price_list = PriceList.objects.filter(name=options["price_list"]).first()
            if price_list is None:
                raise CommandError(f"No price list named “{options['price_list']}”.")
            price_list_id = price_list.pk
        terms = ResellerTerms(
            legal_name=options["legal_name"],
            address=options["address"],
            country=options["country"],
            vat_number=options["vat_number"],
            billing_email=options["billing_email"],
            currency=options["currency"].upper(),
            price_list_id=price_list_id,
            credit_limit=_amount(options["credit_limit"]),
            opening_balance=_amount(options["opening_balance"]),
        )
        try:
            created = reseller_create(
                name=options["name"],
                hostname=options["domain"],
                admin_email=options["admin_email"],
                schema_name=options["schema"],
                kind=options["kind"],
                default_language=options["language"],
                terms=terms,
                created_by="create_reseller",
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(self.style.SUCCESS(f"Created {created.tenant.name}"))
        self.stdout.write(f"  schema:     {created.tenant.schema_name}")
        self.stdout.write(f"  portal:     {created.portal_url}")
        self.stdout.write(f"  login link: {created.login_url}  (works once)")
