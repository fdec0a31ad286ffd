"""Creating tenants, their domains and their first people."""

from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection, transaction
from django.utils.text import slugify
from django_tenants.utils import get_public_schema_name, schema_context, schema_exists
from psycopg import sql

from tenants.cloning import schema_clone
from tenants.models import Domain, SchemaState, Tenant
from tenants.pool import pool_take, template_state

HOSTNAME_RE = re.compile(
    r"^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*$"
)
SCHEMA_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# Citus's setting that makes every schema created while it is on a distributed schema.
CITUS_SCHEMA_SHARDING = "citus.enable_schema_based_sharding"
RESERVED_SCHEMAS = {"public", "information_schema", settings.TENANT_BASE_SCHEMA}


def hostname_validate(hostname: str) -> str:
    hostname = hostname.strip().lower().rstrip(".")
    if not HOSTNAME_RE.match(hostname):
        raise ValidationError(
            f"“{hostname}” is not a valid host name: use letters, digits, hyphens and dots, "
            "like acme.example.com."
        )
    if Domain.objects.filter(domain=hostname).exists():
        raise ValidationError(f"The domain “{hostname}” is already used by another site.")
    return hostname


def schema_name_validate(schema_name: str) -> str:
    if not SCHEMA_NAME_RE.match(schema_name) or schema_name.startswith("pg_"):
        raise ValidationError(
            f"“{schema_name}” is not a valid schema name: start with a letter and use only "
            "lower-case letters, digits and underscores (at most 63)."
        )
    if schema_name in RESERVED_SCHEMAS:
        raise ValidationError(f"The schema name “{schema_name}” is reserved.")
    if Tenant.objects.filter(schema_name=schema_name).exists() or schema_exists(schema_name):
        raise ValidationError(f"The schema name “{schema_name}” is already taken.")
    return schema_name


def schema_name_from_hostname(hostname: str) -> str:
    label = slugify(hostname.split(".")[0]).replace("-", "_")
    if not label or not label[0].isalpha():
        label = f"t_{label}"
    return label[:63]


def template_schema_migrate(*, verbosity: int = 0) -> None:
    """Brings the template every tenant is cloned from up to the latest migrations."""
    template = settings.TENANT_BASE_SCHEMA
    if not schema_exists(template):
        # A state recorded for a template that is gone says nothing of the new one.
        SchemaState.objects.filter(schema_name=template).delete()
    schema_create_undistributed(template)
    call_command("migrate_schemas", schema_name=template, interactive=False, verbosity=verbosity)
    connection.set_schema_to_public()


def schema_create_undistributed(schema_name: str) -> None:
    """Creates ``schema_name`` if missing, as a plain schema even on a Citus coordinator
    with schema-based sharding, which would make it a distributed schema.

    The template is the one such schema: no request reads it, it is only cloned (the
    copies are distributed), and Citus refuses some DDL its migrations run on distributed
    tables (``ALTER COLUMN … TYPE`` of an identity column, accounts 0008). The setting is
    switched off for the ``CREATE SCHEMA`` alone, then put back, so that a tenant schema
    created later in the same transaction is distributed. Without Citus the setting is an
    unused placeholder."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT current_setting(%s, true)", [CITUS_SCHEMA_SHARDING])
        previous = cursor.fetchone()[0]
        cursor.execute("SELECT set_config(%s, 'off', true)", [CITUS_SCHEMA_SHARDING])
        cursor.execute(
            sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema_name))
        )
        cursor.execute("SELECT set_config(%s, %s, true)", [CITUS_SCHEMA_SHARDING, previous or ""])


def schema_distribute(schema_name: str) -> bool:
    """Makes ``schema_name``, created as a plain schema, a distributed schema when the
    database is a Citus coordinator with schema-based sharding on (Citus moves its tables
    and rows to a worker); returns whether it did. Elsewhere a no-op."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(current_setting(%s, true), '') = 'on' "
            "AND to_regproc('pg_catalog.citus_schema_distribute') IS NOT NULL",
            [CITUS_SCHEMA_SHARDING],
        )
        if not cursor.fetchone()[0]:
            return False
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT format('%%I.%%I', n.nspname, c.relname) FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND NOT t.tgisinternal ORDER BY 1",
            [schema_name],
        )
        triggered = [row[0] for row in cursor.fetchall()]
        # Citus creates each shard with its triggers, then copies the rows in: a
        # frozen-document trigger would refuse the lines of an issued invoice. The rows
        # were checked when first written; the triggers are back on once they are in.
        for table in triggered:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        cursor.execute("SELECT citus_schema_distribute(%s::regnamespace)", [schema_name])
        for table in triggered:
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
    return True


def tenant_schema_clone(*, schema_name: str) -> str:
    """A new tenant schema as a copy of the template, tables, indexes and the migration
    history included, so no migration needs to run for it: a copy made ahead of time
    (``tenants.pool``) when there is one, else a clone made now. Returns the migration
    state the schema is at ("" when unknown: the next deploy looks)."""
    connection.set_schema_to_public()
    state = pool_take(schema_name=schema_name)
    if state is not None:
        return state
    if not schema_exists(settings.TENANT_BASE_SCHEMA):
        template_schema_migrate()
    connection.set_schema_to_public()
    schema_clone(template=settings.TENANT_BASE_SCHEMA, schema_name=schema_name)
    return template_state() or ""


@transaction.atomic
def tenant_create(
    *,
    name: str,
    hostname: str,
    kind: str = Tenant.Kind.RESELLER,
    schema_name: str | None = None,
    default_language: str = "en",
) -> tuple[Tenant, Domain]:
    hostname = hostname_validate(hostname)
    schema_name = schema_name_validate(schema_name or schema_name_from_hostname(hostname))
    slug = schema_name.replace("_", "-")
    if Tenant.objects.filter(slug=slug).exists():
        raise ValidationError(f"A tenant with the short name “{slug}” already exists.")
    tenant = Tenant.objects.create(
        schema_name=schema_name,
        name=name.strip(),
        slug=slug,
        kind=kind,
        default_language=default_language,
    )
    domain = Domain.objects.create(
        domain=hostname, tenant=tenant, is_primary=True, is_verified=True
    )
    tenant.migration_state = tenant_schema_clone(schema_name=schema_name)
    tenant.save(update_fields=["migration_state"])
    return tenant, domain


def platform_ensure(*, hostname: str | None = None) -> Tenant:
    """The row for the public schema, which serves the provider console."""
    hostname = hostname or settings.PLATFORM_DOMAIN
    tenant, _ = Tenant.objects.get_or_create(
        schema_name=get_public_schema_name(),
        defaults={"name": settings.PLATFORM_NAME, "slug": "platform", "kind": Tenant.Kind.PLATFORM},
    )
    Domain.objects.get_or_create(
        domain=hostname, defaults={"tenant": tenant, "is_primary": True, "is_verified": True}
    )
    return tenant


def tenant_default_language_set(*, tenant: Tenant, language: str) -> Tenant:
    """The language the tenant's pages open in for a visitor who has not chosen one. The
    tenant row lives in the public schema, whichever schema the caller is in."""
    if language not in dict(settings.LANGUAGES):
        raise ValidationError(f"“{language}” is not a language of this platform.")
    if tenant.default_language != language:
        with schema_context(get_public_schema_name()):
            Tenant.objects.filter(pk=tenant.pk).update(default_language=language)
        tenant.default_language = language
    return tenant
