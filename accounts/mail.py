"""Who a tenant's account e-mails (staff invitations, allauth's notices) come from.

Accounts sits below billing, which holds the tenant's sender (its billing settings): the
billing app adds a source here in its AppConfig.ready, and accounts asks it without
importing billing. Outside a tenant, or with no source, the installation's default
sender is used.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django_tenants.utils import get_public_schema_name

# Each gives the current tenant's sender as a From header ("Name <address>").
tenant_sender_sources: list[Callable[[], str]] = []


def tenant_from_email() -> str:
    if connection.schema_name != get_public_schema_name():
        for source in tenant_sender_sources:
            sender = source()
            if sender:
                return sender
    return settings.DEFAULT_FROM_EMAIL
