"""Versions of a tenant's terms of service. A published version is never edited or
deleted (a trigger refuses it, whoever writes to the table), so an order's record of the
terms accepted keeps pointing at the text the buyer saw. A tenant that already has terms
gets them as version 1."""

import django.utils.timezone
from django.db import migrations, models

FUNCTION = r"""
CREATE OR REPLACE FUNCTION public.accounts_terms_version_frozen() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'accounts: published terms of service (version %) cannot change',
        OLD.version USING ERRCODE = 'restrict_violation';
END
$$;
"""


def _first_version(apps, schema_editor) -> None:
    Branding = apps.get_model("accounts", "Branding")
    TermsVersion = apps.get_model("accounts", "TermsVersion")
    branding = Branding.objects.filter(pk=1).first()
    if branding is not None and branding.terms_text and not TermsVersion.objects.exists():
        TermsVersion.objects.create(
            version=1, text=branding.terms_text, published_at=branding.updated_at
        )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0008_bigint_keys"),
    ]

    operations = [
        migrations.CreateModel(
            name="TermsVersion",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("version", models.PositiveIntegerField(unique=True, verbose_name="version")),
                ("text", models.TextField(verbose_name="terms of service")),
                (
                    "published_at",
                    models.DateTimeField(
                        default=django.utils.timezone.now, verbose_name="published"
                    ),
                ),
            ],
            options={
                "verbose_name": "terms of service version",
                "verbose_name_plural": "terms of service versions",
                "ordering": ["-version"],
            },
        ),
        # The hint names a tenant-only model, so the router runs these in tenant schemas.
        migrations.RunSQL(
            FUNCTION, reverse_sql=migrations.RunSQL.noop, hints={"model_name": "termsversion"}
        ),
        migrations.RunSQL(
            "CREATE TRIGGER accounts_termsversion_frozen BEFORE UPDATE OR DELETE "
            "ON accounts_termsversion FOR EACH ROW "
            "EXECUTE FUNCTION public.accounts_terms_version_frozen()",
            reverse_sql="DROP TRIGGER IF EXISTS accounts_termsversion_frozen "
            "ON accounts_termsversion",
            hints={"model_name": "termsversion"},
        ),
        migrations.RunPython(
            _first_version, migrations.RunPython.noop, hints={"model_name": "termsversion"}
        ),
    ]
