from django.conf import settings
from django.core.management.base import BaseCommand
from django_tenants.utils import schema_context

from accounts.models import User
from billing import demo
from core.hosts import portal_url_for
from resale.demo import seed_account, seed_provider
from resale.onboarding import reseller_create
from tenants.models import Domain, Tenant
from tenants.services import platform_ensure

DEMO_PASSWORD = "demo-password-123"
DEMO_TENANTS = [
    ("Tessera Hosting", "shop", "owner@shop.test", Tenant.Kind.RETAIL, "en"),
    ("Acme Hosting", "acme", "owner@acme.test", Tenant.Kind.RESELLER, "en"),
    ("Nimbus Web", "nimbus", "owner@nimbus.test", Tenant.Kind.RESELLER, "it"),
]


class Command(BaseCommand):
    help = "Loads the demo platform, retail brand and two resellers. Safe to run again."

    def handle(self, *args, **options):
        platform_ensure()
        price_list = seed_provider()
        with schema_context("public"):
            admin, created = User.objects.get_or_create(
                email="admin@platform.test",
                defaults={
                    "kind": User.Kind.STAFF,
                    "role": User.Role.OWNER,
                    "is_staff": True,
                    "is_superuser": True,
                    "full_name": "Provider admin",
                },
            )
            if created:
                admin.set_password(DEMO_PASSWORD)
                admin.save()
        rows = [
            (
                "Provider console",
                portal_url_for(settings.PLATFORM_DOMAIN, "/provider/"),
                "admin@platform.test",
            )
        ]
        for name, label, email, kind, language in DEMO_TENANTS:
            hostname = f"{label}.{settings.PLATFORM_DOMAIN}"
            if not Domain.objects.filter(domain=hostname).exists():
                reseller_create(
                    name=name,
                    hostname=hostname,
                    admin_email=email,
                    kind=kind,
                    default_language=language,
                )
            tenant = Domain.objects.get(domain=hostname).tenant
            seed_account(tenant.reseller_account, price_list)
            with schema_context(tenant.schema_name):
                owner = User.objects.get(email=email)
                if not owner.has_usable_password():
                    owner.set_password(DEMO_PASSWORD)
                    owner.save()
                self.seed_tenant(tenant)
                demo.card_payments_seed(
                    sandbox_key=settings.SANDBOX_STRIPE_KEYS.get(label), label=label
                )
            rows.append((name, portal_url_for(hostname), email))
        self.stdout.write(self.style.SUCCESS("Demo data ready. Portals:"))
        for title, url, email in rows:
            self.stdout.write(f"  {title:<18} {url:<36} {email} / {DEMO_PASSWORD}")

    def seed_tenant(self, tenant: Tenant) -> None:
        """Catalogue and clients for the demo; extended as capabilities land."""

        demo.seed(tenant)
