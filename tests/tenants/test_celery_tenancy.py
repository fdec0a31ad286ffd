import pytest
from django.core.cache import cache
from django_tenants.utils import schema_context, tenant_context

from tenants.tasks import schema_probe

pytestmark = pytest.mark.worker


def test_task_queued_from_tenant_a_runs_in_schema_a(
    celery_worker_process, live_db, tenant_a, tenant_b
):
    with schema_context(tenant_a.schema):
        cache.set("probe", "alpha value")
    with schema_context(tenant_b.schema):
        cache.set("probe", "beta value")
    try:
        with tenant_context(tenant_a.tenant):
            from_a = schema_probe.delay("probe")
        with tenant_context(tenant_b.tenant):
            from_b = schema_probe.delay("probe")
        assert from_a.get(timeout=30) == {"schema": tenant_a.schema, "cached": "alpha value"}
        assert from_b.get(timeout=30) == {"schema": tenant_b.schema, "cached": "beta value"}
    finally:
        for world in (tenant_a, tenant_b):
            with schema_context(world.schema):
                cache.delete("probe")
