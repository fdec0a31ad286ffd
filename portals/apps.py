from django.apps import AppConfig


class PortalsConfig(AppConfig):
    """The storefront, the client area, the reseller console and their shared pieces:
    no models, only views, forms, selectors of what a page reads, and template tags."""

    name = "portals"
    verbose_name = "Portals"

    def ready(self) -> None:
        from portals.console.views.login_as import login_as_audit_connect

        login_as_audit_connect()
