"""The database refuses to change or remove audit entries, whatever writes to it.

The function lives in ``public`` so that tenant schemas cloned from the template, whose
triggers point at ``public.audit_append_only``, find it."""

from django.db import migrations

FUNCTION = r"""
CREATE OR REPLACE FUNCTION public.audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit: entries are append-only'
        USING ERRCODE = 'restrict_violation';
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [
        migrations.RunSQL(
            FUNCTION, reverse_sql=migrations.RunSQL.noop, hints={"model_name": "auditentry"}
        ),
        migrations.RunSQL(
            "CREATE TRIGGER audit_auditentry_append_only BEFORE UPDATE OR DELETE "
            "ON audit_auditentry FOR EACH ROW EXECUTE FUNCTION public.audit_append_only()",
            reverse_sql="DROP TRIGGER IF EXISTS audit_auditentry_append_only ON audit_auditentry",
            hints={"model_name": "auditentry"},
        ),
    ]
