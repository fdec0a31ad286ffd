from django.apps import AppConfig


class SupportConfig(AppConfig):
    name = "support"
    verbose_name = "Support"

    def ready(self) -> None:
        # Imported here, not at the top: these modules load models, which can only be
        # imported once every app is registered.
        from django_tenants.utils import schema_context

        from resale.escalations import escalation_changed_listeners
        from support import gdpr
        from support.due_work import support_due_marks_connect
        from support.emails import listeners_register
        from support.tasks import escalation_pull_task

        def provider_changed(tenant_schema: str, upstream_ref: str) -> None:
            # The provider of this installation answered: fetch it now, in the tenant's
            # schema, rather than at the next periodic round.
            with schema_context(tenant_schema):
                escalation_pull_task.delay(upstream_ref)

        escalation_changed_listeners.append(provider_changed)

        # The client's and staff's e-mails follow ticket events.
        listeners_register()
        # A client's export and erasure include its tickets.
        gdpr.connect()
        # Writes that give a tenant periodic work mark it for the sweeps.
        support_due_marks_connect()
