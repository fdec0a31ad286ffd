from django.apps import AppConfig


class PortalsConfig(AppConfig):
    """The storefront, the client area, the reseller console and their shared pieces:
    no models, only views, forms, selectors of what a page reads, and template tags."""

    name = "portals"
    verbose_name = "Portals"
