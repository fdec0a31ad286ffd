"""Database triggers that keep the ledger append-only and issued documents unchanged,
whatever code (or person with psql) writes to the tables.

The trigger functions live in ``public`` so that every tenant schema, including the ones
cloned from the template, finds them; the tables they check are resolved through the
search path, i.e. in the tenant's own schema."""

from django.db import migrations

FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION public.billing_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'billing: rows of % are append-only', TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END
$$;

CREATE OR REPLACE FUNCTION public.billing_invoice_frozen() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'draft' THEN
            RAISE EXCEPTION 'billing: issued invoice % cannot be deleted', OLD.number
                USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.status <> 'draft' AND (
        NEW.status = 'draft'
        OR (NEW.client_id, NEW.number, NEW.sequence_year, NEW.sequence_number, NEW.currency,
            NEW.language, NEW.issue_date, NEW.due_date, NEW.issued_at, NEW.subtotal_amount,
            NEW.tax_total_amount, NEW.total_amount, NEW.prices_include_tax,
            NEW.reverse_charge, NEW.tax_note, NEW.seller, NEW.buyer, NEW.notes)
        IS DISTINCT FROM
           (OLD.client_id, OLD.number, OLD.sequence_year, OLD.sequence_number, OLD.currency,
            OLD.language, OLD.issue_date, OLD.due_date, OLD.issued_at, OLD.subtotal_amount,
            OLD.tax_total_amount, OLD.total_amount, OLD.prices_include_tax,
            OLD.reverse_charge, OLD.tax_note, OLD.seller, OLD.buyer, OLD.notes)
    ) THEN
        RAISE EXCEPTION 'billing: issued invoice % cannot be edited', OLD.number
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION public.billing_invoice_line_frozen() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND EXISTS (
        SELECT 1 FROM billing_invoice WHERE id = OLD.invoice_id AND status <> 'draft'
    ) THEN
        RAISE EXCEPTION 'billing: lines of an issued invoice cannot change'
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND EXISTS (
        SELECT 1 FROM billing_invoice WHERE id = NEW.invoice_id AND status <> 'draft'
    ) THEN
        RAISE EXCEPTION 'billing: lines of an issued invoice cannot change'
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION public.billing_credit_note_frozen() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR
       (NEW.invoice_id, NEW.client_id, NEW.number, NEW.sequence_year, NEW.sequence_number,
        NEW.currency, NEW.language, NEW.issue_date, NEW.issued_at, NEW.reason,
        NEW.subtotal_amount, NEW.tax_total_amount, NEW.total_amount, NEW.to_credit_amount,
        NEW.reverse_charge, NEW.tax_note, NEW.seller, NEW.buyer)
       IS DISTINCT FROM
       (OLD.invoice_id, OLD.client_id, OLD.number, OLD.sequence_year, OLD.sequence_number,
        OLD.currency, OLD.language, OLD.issue_date, OLD.issued_at, OLD.reason,
        OLD.subtotal_amount, OLD.tax_total_amount, OLD.total_amount, OLD.to_credit_amount,
        OLD.reverse_charge, OLD.tax_note, OLD.seller, OLD.buyer)
    THEN
        RAISE EXCEPTION 'billing: credit note % cannot change', OLD.number
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION public.billing_payment_frozen() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR
       (NEW.client_id, NEW.invoice_id, NEW.method, NEW.gateway, NEW.gateway_reference,
        NEW.currency, NEW.amount, NEW.received_at)
       IS DISTINCT FROM
       (OLD.client_id, OLD.invoice_id, OLD.method, OLD.gateway, OLD.gateway_reference,
        OLD.currency, OLD.amount, OLD.received_at)
    THEN
        RAISE EXCEPTION 'billing: a recorded payment cannot change; refund it instead'
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END
$$;
"""

TRIGGERS = [
    ("ledgerentry", "billing_ledgerentry_append_only", "UPDATE OR DELETE", "billing_append_only"),
    ("refund", "billing_refund_append_only", "UPDATE OR DELETE", "billing_append_only"),
    ("creditnoteline", "billing_creditnoteline_frozen", "UPDATE OR DELETE", "billing_append_only"),
    ("invoice", "billing_invoice_frozen", "UPDATE OR DELETE", "billing_invoice_frozen"),
    (
        "invoiceline",
        "billing_invoiceline_frozen",
        "INSERT OR UPDATE OR DELETE",
        "billing_invoice_line_frozen",
    ),
    ("creditnote", "billing_creditnote_frozen", "UPDATE OR DELETE", "billing_credit_note_frozen"),
    ("payment", "billing_payment_frozen", "UPDATE OR DELETE", "billing_payment_frozen"),
]


def _operations():
    # The hint names a tenant-only model, so the router runs this in tenant schemas only.
    yield migrations.RunSQL(
        FUNCTIONS, reverse_sql=migrations.RunSQL.noop, hints={"model_name": "ledgerentry"}
    )
    for model, name, events, function in TRIGGERS:
        yield migrations.RunSQL(
            f"CREATE TRIGGER {name} BEFORE {events} ON billing_{model} "
            f"FOR EACH ROW EXECUTE FUNCTION public.{function}()",
            reverse_sql=f"DROP TRIGGER IF EXISTS {name} ON billing_{model}",
            hints={"model_name": model},
        )


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = list(_operations())
