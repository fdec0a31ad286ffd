"""Indexes no query uses, in every schema, and the admin log in tenant schemas.

Each index costs a new tenant a file written and synced to disk when its schema is
cloned. The ``_like`` indexes serve ``LIKE 'prefix%'`` lookups, which sign-in, sessions
and groups never make (they look up whole values); the single-column indexes on the many-
to-many tables repeat the first column of their unique pair. The admin log belongs to the
provider console, in public; tenants record their changes in the audit log.
"""

from django.db import migrations

from tenants.schema_ops import drop_indexes, drop_table_in_tenants


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_unused_indexes"),
        ("account", "0009_emailaddress_unique_primary_email"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("sessions", "0001_initial"),
    ]

    operations = [
        drop_indexes(
            {
                "account_emailaddress_email_03be32b2_like": (
                    "account_emailaddress (email varchar_pattern_ops)"
                ),
                "account_emailaddress_user_id_2c513194": "account_emailaddress (user_id)",
                "account_emailconfirmation_key_f43612bd_like": (
                    "account_emailconfirmation (key varchar_pattern_ops)"
                ),
                "accounts_user_email_b2644a56_like": "accounts_user (email varchar_pattern_ops)",
                "accounts_user_groups_user_id_52b62117": "accounts_user_groups (user_id)",
                "accounts_user_user_permissions_user_id_e4f0a161": (
                    "accounts_user_user_permissions (user_id)"
                ),
                "auth_group_name_a6ea08ec_like": "auth_group (name varchar_pattern_ops)",
                "auth_group_permissions_group_id_b120cbf9": "auth_group_permissions (group_id)",
                "django_session_session_key_c0390e0f_like": (
                    "django_session (session_key varchar_pattern_ops)"
                ),
            }
        ),
        drop_table_in_tenants("django_admin_log"),
    ]
