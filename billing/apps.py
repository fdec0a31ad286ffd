from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing"

    def ready(self) -> None:
        # Imported here, not at the top: these modules import models, which can only be
        # loaded once every app is registered.
        from billing import audit_log
        from billing.billing_run import billing_due_marks_connect
        from billing.emails import listeners_register
        from billing.payments.flows import payment_listeners_connect
        from billing.selectors import client_language_for_user
        from core.locale import user_language_sources

        # Client e-mails (invoice issued, welcome, suspension) follow billing events.
        listeners_register()
        # Auto-charge the moment an invoice is issued, for clients who opted in.
        payment_listeners_connect()
        # Tenants with something to bill are marked for the daily run (tenants.due_work).
        billing_due_marks_connect()
        # What billing writes into the audit log.
        audit_log.connect()
        # A client's pages speak the language of its billing record.
        if client_language_for_user not in user_language_sources:
            user_language_sources.append(client_language_for_user)
