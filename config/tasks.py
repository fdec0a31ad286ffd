"""The base class of every Celery task: a task runs in the schema it was queued from, or
not at all."""

from __future__ import annotations

import logging

from django.db import connection
from tenant_schemas_celery.app import get_schema_name_from_task
from tenant_schemas_celery.task import TenantTask

logger = logging.getLogger(__name__)


class SchemaCheckedTask(TenantTask):
    abstract = True

    def __call__(self, *args, **kwargs):
        wanted = get_schema_name_from_task(self, kwargs)
        if wanted and connection.schema_name != wanted:
            # tenant-schemas-celery could not switch (the tenant was deleted after the task
            # was queued); it logs that and lets the task run wherever the connection is,
            # which would be another schema. A task for a tenant that is gone has nothing
            # left to do.
            logger.warning(
                "Task %s[%s] skipped: it was queued in schema %s, which has no tenant now.",
                self.name,
                self.request.id,
                wanted,
            )
            return None
        return super().__call__(*args, **kwargs)
