import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django_tenants.utils import schema_context, schema_exists

from accounts.models import User
from resale.models import ResellerAccount
from tenants.models import Domain, Tenant

pytestmark = pytest.mark.django_db

CATALOG_QUERIES = {
    "columns": "SELECT table_name, column_name, data_type, is_nullable, is_identity, "
    "column_default FROM information_schema.columns WHERE table_schema = %s",
    "constraints": "SELECT rel.relname, con.conname, con.contype, "
    "regexp_replace(pg_get_constraintdef(con.oid), '\\m' || %s || '\\.', '', 'g') "
    "FROM pg_constraint con JOIN pg_class rel ON rel.oid = con.conrelid "
    "JOIN pg_namespace n ON n.oid = con.connamespace WHERE n.nspname = %s",
    "indexes": "SELECT indexname, regexp_replace(indexdef, '\\m' || %s || '\\.', '', 'g') "
    "FROM pg_indexes WHERE schemaname = %s",
    "triggers": "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c "
    "ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = %s AND NOT t.tgisinternal",
    "migrations": "SELECT app, name FROM {schema}.django_migrations",
}


def _catalog(schema: str) -> dict[str, set]:
    result = {}
    with connection.cursor() as cursor:
        for name, query in CATALOG_QUERIES.items():
            if "{schema}" in query:
                cursor.execute(query.format(schema=f'"{schema}"'))
            elif query.count("%s") == 2:
                cursor.execute(query, [schema, schema])
            else:
                cursor.execute(query, [schema])
            result[name] = {tuple(row) for row in cursor.fetchall()}
    return result


def test_clone_is_identical_to_the_template(tenant_a):
    template = _catalog(settings.TENANT_BASE_SCHEMA)
    clone = _catalog(tenant_a.schema)
    for part in CATALOG_QUERIES:
        assert clone[part] == template[part], part
    assert template["migrations"], "the migration history travels with the clone"


def test_create_reseller_command(capsys):
    call_command(
        "create_reseller",
        "--name",
        "Gamma Hosting",
        "--domain",
        "gamma.localhost",
        "--admin-email",
        "Owner@Gamma.test",
    )
    output = capsys.readouterr().out
    assert "http://gamma.localhost:" in output
    assert "/login/link/" in output
    tenant = Tenant.objects.get(schema_name="gamma")
    assert tenant.kind == Tenant.Kind.RESELLER
    assert Domain.objects.get(domain="gamma.localhost").is_primary
    assert ResellerAccount.objects.get(tenant=tenant).legal_name == "Gamma Hosting"
    with schema_context("gamma"):
        owner = User.objects.get()
        assert owner.email == "owner@gamma.test"
        assert owner.role == User.Role.OWNER


def test_login_link_works_once(django_db_setup):
    from django.test import Client

    from resale.onboarding import reseller_create

    created = reseller_create(
        name="Delta", hostname="delta.localhost", admin_email="owner@delta.test"
    )
    path = created.login_url.split(":8000", 1)[-1].split("localhost", 1)[-1]
    browser = Client(HTTP_HOST="delta.localhost")
    first = browser.get(path)
    assert first.status_code == 302
    assert browser.get("/console/").status_code == 200
    second = Client(HTTP_HOST="delta.localhost").get(path)
    assert second.status_code == 400
    elsewhere = Client(HTTP_HOST=f"alpha.{settings.PLATFORM_DOMAIN}").get(path)
    assert elsewhere.status_code == 400


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--domain", "alpha.localhost"], "already used"),
        (["--domain", "bad_host!.localhost"], "not a valid host name"),
        (["--domain", "ok.localhost", "--schema", "1nvalid"], "not a valid schema name"),
        (["--domain", "ok.localhost", "--schema", "public"], "reserved"),
        (["--domain", "ok.localhost", "--schema", "alpha"], "already taken"),
        (["--domain", "ok.localhost", "--admin-email", "not-an-email"], "valid e-mail"),
    ],
)
def test_bad_input_is_a_clear_error_and_creates_nothing(tenant_a, arguments, message):
    Domain.objects.filter(domain="alpha.localhost").delete()
    Domain.objects.create(domain="alpha.localhost", tenant=tenant_a.tenant, is_primary=False)
    options = {"--name": "Epsilon", "--admin-email": "owner@epsilon.test"}
    for flag, value in zip(arguments[::2], arguments[1::2], strict=True):
        options[flag] = value
    argv = [item for pair in options.items() for item in pair]
    tenants_before = Tenant.objects.count()
    with pytest.raises(CommandError, match=message):
        call_command("create_reseller", *argv)
    assert Tenant.objects.count() == tenants_before
    assert not schema_exists("ok")
    assert not Domain.objects.filter(domain="ok.localhost").exists()
