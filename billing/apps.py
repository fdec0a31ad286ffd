from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing"

    def ready(self) -> None:
        from billing.emails import listeners_register

        # Client e-mails (invoice issued, welcome, suspension) follow billing events.
        listeners_register()
        from billing.payments.flows import payment_listeners_connect

        # Auto-charge the moment an invoice is issued, for clients who opted in.
        payment_listeners_connect()
