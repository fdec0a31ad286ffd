from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit log"

    def ready(self) -> None:
        from audit import recorders
        from audit.context import task_signals_connect

        recorders.connect()
        task_signals_connect()
