"""allauth's one-TOTP-per-user index, rewritten with OR instead of IN.

PostgreSQL prints an ``IN`` condition in a form that prints differently once replayed, so
a tenant cloned from the template would not carry the template's exact index definition
(tenants.cloning copies definitions as printed). The rows it admits are the same.
"""

from django.db import migrations

OR_FORM = (
    "CREATE UNIQUE INDEX unique_authenticator_type ON mfa_authenticator (user_id, type) "
    "WHERE type = 'totp' OR type = 'recovery_codes'"
)
IN_FORM = (
    "CREATE UNIQUE INDEX unique_authenticator_type ON mfa_authenticator (user_id, type) "
    "WHERE type IN ('totp', 'recovery_codes')"
)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_api_keys"),
        ("mfa", "0003_authenticator_type_uniq"),
    ]

    operations = [
        migrations.RunSQL(
            sql=["DROP INDEX IF EXISTS unique_authenticator_type", OR_FORM],
            reverse_sql=["DROP INDEX IF EXISTS unique_authenticator_type", IN_FORM],
        ),
    ]
