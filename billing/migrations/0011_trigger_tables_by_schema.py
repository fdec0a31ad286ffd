"""The append-only guard of invoice lines reads ``billing_invoice`` of the table's own
schema (``TG_TABLE_SCHEMA``) instead of whatever the search path finds first: on a Citus
worker, or in any connection whose search path is not the tenant's, an unqualified name
would read another schema's invoices or none. The other guards name no table. Replacing
the function is safe on a running installation: triggers call it by reference."""

from django.db import migrations

FUNCTION = r"""
CREATE OR REPLACE FUNCTION public.billing_invoice_line_frozen() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    issued boolean;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        EXECUTE format(
            'SELECT EXISTS (SELECT 1 FROM %I.billing_invoice WHERE id = $1 AND status <> $2)',
            TG_TABLE_SCHEMA
        ) INTO issued USING OLD.invoice_id, 'draft';
        IF issued THEN
            RAISE EXCEPTION 'billing: lines of an issued invoice cannot change'
                USING ERRCODE = 'restrict_violation';
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        EXECUTE format(
            'SELECT EXISTS (SELECT 1 FROM %I.billing_invoice WHERE id = $1 AND status <> $2)',
            TG_TABLE_SCHEMA
        ) INTO issued USING NEW.invoice_id, 'draft';
        IF issued THEN
            RAISE EXCEPTION 'billing: lines of an issued invoice cannot change'
                USING ERRCODE = 'restrict_violation';
        END IF;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("billing", "0010_taxes_engine")]

    # The hint names a tenant-only model, so the router runs this in tenant schemas only
    # (where the function was made, by 0002).
    operations = [
        migrations.RunSQL(
            FUNCTION, reverse_sql=migrations.RunSQL.noop, hints={"model_name": "invoiceline"}
        )
    ]
