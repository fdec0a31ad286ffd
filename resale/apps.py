from django.apps import AppConfig


class ResaleConfig(AppConfig):
    name = "resale"
    verbose_name = "Resale"

    def ready(self) -> None:
        from billing import events
        from resale import billing_bridge

        if billing_bridge.on_service_event not in events.service_event_tx_listeners:
            events.service_event_tx_listeners.append(billing_bridge.on_service_event)
            events.invoice_event_tx_listeners.append(billing_bridge.on_invoice_event)
