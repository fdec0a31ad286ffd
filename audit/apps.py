from django.apps import AppConfig

from audit.context import task_signals_connect


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit log"

    def ready(self) -> None:
        # What gets recorded is connected by the apps that own the rows
        # (billing.audit_log, resale.audit_log); here only the actor of Celery tasks.
        task_signals_connect()
