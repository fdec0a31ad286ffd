"""The Celery app. Tasks carry the schema they were queued from (tenant-schemas-celery),
so a task queued on a reseller's host runs in that reseller's schema on the worker."""

import os

from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")


class TesseraApp(CeleryApp):
    task_cls = "config.tasks:SchemaCheckedTask"


app = TesseraApp("tessera")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# PDFs and e-mails are slow (WeasyPrint takes seconds); they get a queue of their own so
# they never hold up the latency-sensitive work (upstream commands, provisioning).
DOCUMENT_TASKS = {
    "billing.tasks.invoice_pdf_render_task",
    "billing.tasks.credit_note_pdf_render_task",
    "billing.tasks.email_send_task",
    "billing.tasks.invoices_notify_task",
    "support.tasks.ticket_email_task",
}


def documents_queue() -> str:
    return f"{app.conf.task_default_queue}-documents"


def route_task(name, args, kwargs, options, task=None, **kw):
    if name in DOCUMENT_TASKS:
        return {"queue": documents_queue()}
    return None


app.conf.task_routes = (route_task,)
