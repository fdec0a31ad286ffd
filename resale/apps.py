from django.apps import AppConfig


class ResaleConfig(AppConfig):
    name = "resale"
    verbose_name = "Resale"

    def ready(self) -> None:
        from billing import events, resale_bridge

        if resale_bridge.on_service_event not in events.service_event_tx_listeners:
            events.service_event_tx_listeners.append(resale_bridge.on_service_event)
            events.invoice_event_tx_listeners.append(resale_bridge.on_invoice_event)
