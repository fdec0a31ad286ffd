"""Which schema each table lives in.

django-tenants places whole apps: shared apps in ``public``, tenant apps in every tenant
schema. ``resale`` has a provider side (reseller accounts, balances, upstream orders) and a
tenant side (the outbox of upstream commands), so its models say where they belong with a
``schema_placement`` attribute: ``"public"``, ``"tenant"`` or (by default) both.
"""

from __future__ import annotations

from django.apps import apps
from django.db import connection
from django_tenants.routers import TenantSyncRouter
from django_tenants.utils import get_public_schema_name


class SchemaPlacementRouter(TenantSyncRouter):
    def allow_migrate(self, db, app_label, model_name=None, **hints):
        # The parent answers False (app not in this schema) or None (no opinion).
        allowed = super().allow_migrate(db, app_label, model_name=model_name, **hints)
        if allowed is False or model_name is None:
            return allowed
        try:
            model = apps.get_model(app_label, model_name)
        except LookupError:
            return allowed
        placement = getattr(model, "schema_placement", "both")
        in_public = connection.schema_name == get_public_schema_name()
        if placement == "public":
            return in_public
        if placement == "tenant":
            return not in_public
        return allowed
