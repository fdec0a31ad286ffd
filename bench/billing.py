"""The renewal run at scale: N active services spread over T tenants, all due on one
date. Compared, in the same run, with a raw-SQL lower bound that writes the same invoice
and line rows for another date's worth of the same services (rolled back), so the ratio
says what the billing logic costs over the bare inserts."""

from __future__ import annotations

import os
import time
import uuid
from datetime import date, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django_tenants.utils import schema_context
from tqdm import tqdm

from bench.report import print_report
from billing import services
from billing.billing_run import billing_run
from billing.models import Client, Invoice, InvoiceLine, Service
from billing.money import Money
from tenants.models import Tenant
from tenants.services import tenant_create

SERVICES = int(os.environ.get("BENCH_SERVICES", "100000"))
TENANTS = int(os.environ.get("BENCH_BILLING_TENANTS", "100"))
CLIENTS_PER_TENANT = 50
DUE = date(2026, 6, 1)


def _seed(schema: str, count: int) -> None:
    with schema_context(schema):
        services.billing_settings_update(
            legal_name=f"Bench {schema}",
            country="IT",
            vat_number="IT01234567890",
            renewal_lead_days=0,
            reminder_days=[],
        )
        services.tax_rule_set(country="IT", rate="22")
        group = services.product_group_create(name="Hosting")
        product = services.product_create(group=group, name="Web", type="shared_hosting")
        plan = services.plan_create(
            product=product, name="Web S", prices={"monthly": Money(Decimal("9.90"), "EUR")}
        )
        clients = Client.objects.bulk_create(
            [
                Client(name=f"Client {index}", email=f"c{index}@bench.test", country="IT")
                for index in range(CLIENTS_PER_TENANT)
            ]
        )
        Service.objects.bulk_create(
            [
                Service(
                    client=clients[index % len(clients)],
                    plan=plan,
                    status="active",
                    billing_cycle="monthly",
                    currency="EUR",
                    recurring_amount=Decimal("9.90"),
                    registration_date=DUE - timedelta(31),
                    next_due_date=DUE,
                )
                for index in range(count)
            ],
            batch_size=2000,
        )


LOWER_BOUND_SQL = """
WITH due AS (
    SELECT s.id, s.client_id, s.recurring_amount, s.next_due_date,
           row_number() OVER (ORDER BY s.id) AS rn
    FROM billing_service s
    WHERE s.status = 'active' AND s.next_due_date <= %(due)s
), invoices AS (
    INSERT INTO billing_invoice (
        public_id, client_id, status, number, sequence_year, sequence_number, currency,
        language, issue_date, due_date, issued_at, subtotal_amount, tax_total_amount,
        total_amount, paid_amount, credited_amount, prices_include_tax, reverse_charge,
        tax_note, seller, buyer, notes, pdf_file, pdf_template_hash, reminder_count,
        created_at, updated_at)
    SELECT gen_random_uuid(), client_id, 'draft', 'LB-' || rn, 2026, 900000 + rn, 'EUR',
           'en', %(due)s, %(due)s, now(), recurring_amount, round(recurring_amount * 0.22, 2),
           recurring_amount + round(recurring_amount * 0.22, 2), 0, 0, false, false, '',
           %(seller)s::jsonb, %(buyer)s::jsonb, '', '', '', 0, now(), now()
    FROM due
    RETURNING id, sequence_number
)
INSERT INTO billing_invoiceline (
    invoice_id, position, kind, description, quantity, currency, unit_price_amount,
    tax_rate, tax_name, net_amount, tax_amount, total_amount, service_id, period_start,
    period_end)
SELECT invoices.id, 1, 'renewal', 'Web S (bench)', 1, 'EUR', due.recurring_amount, 22,
       'VAT', due.recurring_amount, round(due.recurring_amount * 0.22, 2),
       due.recurring_amount + round(due.recurring_amount * 0.22, 2), due.id,
       due.next_due_date, due.next_due_date + 31
FROM invoices JOIN due ON due.rn = invoices.sequence_number - 900000
"""


def _lower_bound(schema: str) -> float:
    """The same invoice and line rows in plain SQL, then issued; rolled back."""
    import json

    seller = json.dumps(
        {
            "name": f"Bench {schema}",
            "country": "IT",
            "vat_number": "IT01234567890",
            "address_lines": ["Via Roma 1"],
        }
    )
    buyer = json.dumps({"name": "Client", "country": "IT", "address_lines": []})
    started = time.perf_counter()
    with schema_context(schema), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(LOWER_BOUND_SQL, {"due": DUE, "seller": seller, "buyer": buyer})
            cursor.execute("UPDATE billing_invoice SET status = 'issued' WHERE number LIKE 'LB-%%'")
        elapsed = time.perf_counter() - started
        transaction.set_rollback(True)
    return elapsed


def run() -> None:
    run_id = uuid.uuid4().hex[:6]
    per_tenant = SERVICES // TENANTS
    schemas = [f"bb_{run_id}_{index}" for index in range(TENANTS)]
    from config.celery import app

    # Notifications of the run go to a queue nobody reads, emptied afterwards.
    queue = f"bench-{run_id}"
    app.conf.task_default_queue = queue
    try:
        for schema in tqdm(schemas, desc="seed tenants", unit="tenant"):
            tenant_create(
                name=schema, hostname=f"{schema.replace('_', '-')}.bench.test", schema_name=schema
            )
            _seed(schema, per_tenant)
        total_services = per_tenant * TENANTS

        lower_bound = 0.0
        for schema in tqdm(schemas, desc="sql lower bound", unit="tenant"):
            lower_bound += _lower_bound(schema)

        run_time = 0.0
        invoices = 0
        for schema in tqdm(schemas, desc="billing run", unit="tenant"):
            with schema_context(schema):
                started = time.perf_counter()
                result = billing_run(run_date=DUE)
                run_time += time.perf_counter() - started
                invoices += result.invoices
        with schema_context(schemas[0]):
            lines = InvoiceLine.objects.count()
            issued = Invoice.objects.filter(status="issued").count()
    finally:
        with app.connection_for_write() as conn:
            for name in (queue, f"{queue}-documents"):
                conn.default_channel.queue_purge(name)
        for schema in tqdm(schemas, desc="clean up", unit="schema"):
            with connection.cursor() as cursor:
                cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        Tenant.objects.filter(schema_name__startswith=f"bb_{run_id}_").delete()

    figures = {
        "services": total_services,
        "tenants": TENANTS,
        "invoices": invoices,
        "run_s": round(run_time, 3),
        "sql_s": round(lower_bound, 3),
        "invoices_per_s": round(invoices / run_time),
        "sql_invoices_per_s": round(total_services / lower_bound),
        "ratio_to_sql": round(run_time / lower_bound, 2),
    }
    print_report(
        "billing",
        [
            ("services due (tenants)", f"{total_services} ({TENANTS})"),
            ("invoices issued by the run", str(invoices)),
            ("check: lines = issued in tenant 1", f"{lines} = {issued}"),
            ("billing run (s)", f"{run_time:.3f}"),
            ("raw SQL lower bound (s)", f"{lower_bound:.3f}"),
            ("invoices/s, run", str(figures["invoices_per_s"])),
            ("invoices/s, SQL", str(figures["sql_invoices_per_s"])),
            ("run / SQL", f"{figures['ratio_to_sql']}x"),
        ],
        figures,
    )
