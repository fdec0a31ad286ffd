"""64-bit keys everywhere: the tables of Django's own apps (auth, content types, the
admin log) and allauth's e-mail addresses were made with 32-bit ids, in public and in
every tenant schema. Needed to place tenant schemas on Citus workers, whose sequences
start at 2^48 times the node's group id; harmless anywhere else. Safe to run again."""

from django.db import migrations

from tenants.schema_ops import integer_keys_to_bigint


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_tenant_schema_trim"),
        ("account", "0009_emailaddress_unique_primary_email"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("admin", "0003_logentry_add_action_flag_choices"),
        ("mfa", "0003_authenticator_type_uniq"),
    ]

    operations = [integer_keys_to_bigint()]
