"""Per-tenant backup and move: a tenant exported with ``tenant_export`` and imported with
``tenant_import`` under a new schema (standing in for another installation) has the same
invoices, the same client balances and its media."""

from __future__ import annotations

import json
import shutil
import tarfile
import uuid
from datetime import date

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django_tenants.utils import schema_context

from audit.models import AuditEntry
from billing import services
from billing.models import Client, Invoice, LedgerEntry, Payment
from billing.selectors import client_balance, client_credit
from tenants.backup import BackupError, media_dir, pg_tool, tenant_import
from tenants.models import Domain, Tenant
from tests.billing.conftest import eur, invoice_for, shop_build
from tests.conftest import provider_rows_delete
from tests.tenants.citus_probe import sharding_probe_install, sharding_probe_remove


def _snapshot(schema: str) -> dict:
    with schema_context(schema):
        invoices = [
            {
                "number": inv.number,
                "status": inv.status,
                "sequence": (inv.sequence_year, inv.sequence_number),
                "total": str(inv.total_amount),
                "tax": str(inv.tax_total_amount),
                "paid": str(inv.paid_amount),
                "buyer": inv.buyer,
                "seller": inv.seller,
                "lines": [
                    (line.description, str(line.total_amount))
                    for line in inv.lines.order_by("position", "id")
                ],
            }
            for inv in Invoice.objects.order_by("id")
        ]
        balances = {
            str(client.public_id): (
                str(client_balance(client=client)),
                str(client_credit(client=client)),
            )
            for client in Client.objects.order_by("id")
        }
        return {
            "invoices": invoices,
            "balances": balances,
            "ledger": LedgerEntry.objects.count(),
            "payments": Payment.objects.count(),
            "audit": AuditEntry.objects.count(),
        }


@pytest.fixture
def source(tenant_factory):
    created = tenant_factory(name="Gamma Hosting")
    schema = created.tenant.schema_name
    with schema_context(schema):
        shop = shop_build()
        first = invoice_for(shop.client, ("Hosting", eur(100)))
        services.payment_record(
            invoice=first,
            amount=eur(50),
            method=Payment.Method.MANUAL,
            idempotency_key=uuid.uuid4().hex,
        )
        second = invoice_for(shop.business_de, ("VPS", eur(20)), ("Setup", eur(5)))
        services.payment_record(
            invoice=second,
            amount=second.total,
            method=Payment.Method.BANK_TRANSFER,
            idempotency_key=uuid.uuid4().hex,
        )
        services.credit_add(client=shop.exempt, amount=eur(30), idempotency_key=uuid.uuid4().hex)
        service = services.service_create(
            client=shop.client,
            plan=shop.starter,
            cycle="monthly",
            registration_date=date(2025, 1, 1),
        )
        services.service_activate(service=service)
    connection.set_schema_to_public()
    media = media_dir(schema)
    (media / "invoices").mkdir(parents=True, exist_ok=True)
    (media / "invoices" / "proof.pdf").write_bytes(b"%PDF-1.7 gamma")
    yield created.tenant
    shutil.rmtree(media, ignore_errors=True)


def _drop(schema: str) -> None:
    connection.set_schema_to_public()
    tenant = Tenant.objects.filter(schema_name=schema).first()
    if tenant is not None:
        provider_rows_delete(tenant)
        from resale.models import ResellerAccount

        ResellerAccount.objects.filter(tenant=tenant).delete()
        tenant.delete(force_drop=True)
    shutil.rmtree(media_dir(schema), ignore_errors=True)


def test_round_trip_reproduces_invoices_and_balances(source, tmp_path):
    archive = tmp_path / "tenant.tar"
    call_command("tenant_export", schema=source.schema_name, out=str(archive))

    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        manifest = json.loads(tar.extractfile("manifest.json").read())
    assert {"manifest.json", "schema.dump", "media/invoices/proof.pdf"} <= names
    assert manifest["tenant"]["name"] == "Gamma Hosting"
    assert [d["domain"] for d in manifest["domains"]] == [source.primary_domain.domain]

    new_schema = f"m{uuid.uuid4().hex[:10]}"
    new_host = f"{new_schema}.{settings.PLATFORM_DOMAIN}"
    try:
        call_command("tenant_import", file=str(archive), schema=new_schema, domain=new_host)
        imported = Tenant.objects.get(schema_name=new_schema)
        assert imported.name == "Gamma Hosting" and imported.pk != source.pk
        assert list(Domain.objects.filter(tenant=imported).values_list("domain", "is_primary")) == [
            (new_host, True)
        ]
        before, after = _snapshot(source.schema_name), _snapshot(new_schema)
        assert before["invoices"] and len(before["balances"]) == 3
        assert after == before
        assert (media_dir(new_schema) / "invoices" / "proof.pdf").read_bytes() == b"%PDF-1.7 gamma"

        # The copy is a working tenant: its triggers still guard issued invoices and the
        # numbering carries on from where the original stood.
        with schema_context(new_schema):
            shop_client = Client.objects.get(email="mario@example.test")
            following = invoice_for(shop_client, ("More", eur(1)))
            last = Invoice.objects.exclude(pk=following.pk).order_by("-sequence_number").first()
            assert following.sequence_number == last.sequence_number + 1
            from django.db import IntegrityError, transaction

            with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cur:
                cur.execute("UPDATE billing_invoice SET total_amount = 0 WHERE id = %s", [last.pk])
        # The original is untouched by the copy's new invoice.
        assert _snapshot(source.schema_name) == before
    finally:
        _drop(new_schema)


def test_import_refuses_an_existing_schema_or_host(source, tmp_path):
    archive = tmp_path / "tenant.tar"
    call_command("tenant_export", schema=source.schema_name, out=str(archive))
    with pytest.raises(CommandError, match="already"):
        call_command("tenant_import", file=str(archive))
    new_schema = f"m{uuid.uuid4().hex[:10]}"
    with pytest.raises(BackupError, match="already belongs"):
        tenant_import(archive_path=archive, schema_name=new_schema)
    connection.set_schema_to_public()
    assert not Tenant.objects.filter(schema_name=new_schema).exists()


def test_export_of_an_unknown_schema_fails(live_db, tmp_path):
    with pytest.raises(CommandError, match="no tenant"):
        call_command("tenant_export", schema="nope", out=str(tmp_path / "x.tar"))


def test_pg_dump_matches_the_server(live_db):
    import subprocess

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        major = int(cursor.fetchone()[0]) // 10000
    output = subprocess.run(
        [pg_tool("pg_dump"), "--version"], capture_output=True, text=True
    ).stdout
    assert int(output.split(")")[1].split(".")[0]) >= major


def test_import_restores_a_plain_schema_where_citus_would_distribute_it(source, tmp_path):
    """On a Citus coordinator with schema-based sharding every schema created with
    ``citus.enable_schema_based_sharding`` on is distributed at its ``CREATE SCHEMA``, and
    Citus then refuses the identity columns pg_dump adds after each ``CREATE TABLE``. The
    restore turns the setting off for its own transaction. A probe stands in for Citus: an
    event trigger that refuses a ``CREATE SCHEMA`` made with the setting on, which is on
    for every new session of the database, as ``ALTER SYSTEM`` puts it on a coordinator."""
    import psycopg
    from psycopg import sql

    archive = tmp_path / "tenant.tar"
    call_command("tenant_export", schema=source.schema_name, out=str(archive))
    db = connection.settings_dict
    new_schema = f"m{uuid.uuid4().hex[:10]}"
    with connection.cursor() as cursor:
        sharding_probe_install(cursor)
        cursor.execute(
            sql.SQL("ALTER DATABASE {} SET citus.enable_schema_based_sharding = on").format(
                sql.Identifier(db["NAME"])
            )
        )
    try:
        # The probe refuses what Citus would distribute.
        with (
            psycopg.connect(
                dbname=db["NAME"], host=db["HOST"], port=db["PORT"], user=db["USER"]
            ) as other,
            pytest.raises(psycopg.Error, match="distributed schema"),
        ):
            other.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(new_schema)))

        call_command(
            "tenant_import",
            file=str(archive),
            schema=new_schema,
            domain=f"{new_schema}.{settings.PLATFORM_DOMAIN}",
        )
        connection.set_schema_to_public()
        assert Tenant.objects.filter(schema_name=new_schema).exists()
        assert _snapshot(new_schema) == _snapshot(source.schema_name)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("ALTER DATABASE {} RESET citus.enable_schema_based_sharding").format(
                    sql.Identifier(db["NAME"])
                )
            )
            sharding_probe_remove(cursor)
        _drop(new_schema)
