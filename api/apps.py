from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The tenant REST API: no models of its own (API keys and webhook endpoints are
    accounts' rows), its Celery tasks (webhook deliveries) and its event listeners."""

    name = "api"
    verbose_name = "Tenant API"

    def ready(self) -> None:
        # Imported here, not at the top: hooks loads models, which exist only once every
        # app is registered.
        from api import hooks

        # Outgoing webhooks follow billing and resale events.
        hooks.connect()
