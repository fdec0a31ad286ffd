from celery import shared_task
from django.core.cache import cache
from django.db import connection


@shared_task
def schema_probe(cache_key: str | None = None) -> dict:
    """Reports the schema a task runs in (and what the cache holds there): lets an
    operator check that workers receive the tenant along with each task."""
    return {
        "schema": connection.schema_name,
        "cached": cache.get(cache_key) if cache_key else None,
    }
