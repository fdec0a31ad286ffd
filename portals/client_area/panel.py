"""Single sign-on into a service's control panel. For a resold service the upstream (the
provider, or a remote installation) makes a one-time login URL; the client's browser is
sent there and nothing is stored."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.utils.translation import gettext as _

from billing.models import Service


class PanelUnavailable(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def service_is_resold(service: Service) -> bool:
    return bool(service.plan.upstream_plan_ref)


def service_upstream_ref(service: Service) -> str:
    """The upstream's id of the service, reported when its creation completed."""
    from resale.models import UpstreamCommand

    command = (
        UpstreamCommand.objects.filter(service_ref=str(service.public_id), action="create")
        .exclude(upstream_ref="")
        .order_by("-created_at")
        .first()
    )
    return command.upstream_ref if command else ""


def service_panel_url(service: Service) -> str:
    from resale.upstreams import UpstreamRejected, UpstreamUnavailable, upstream_for_current_tenant

    if not service_is_resold(service):
        raise PanelUnavailable(_("This service has no control panel to open."))
    if service.status != Service.Status.ACTIVE:
        raise PanelUnavailable(_("The control panel opens only for an active service."))
    reference = service_upstream_ref(service)
    if not reference:
        raise PanelUnavailable(_("The service is still being set up; try again shortly."))
    try:
        url = upstream_for_current_tenant().sso_url(service_ref=reference)
    except UpstreamRejected as exc:
        raise PanelUnavailable(
            _("The control panel cannot be opened right now (%(reason)s).") % {"reason": exc}
        ) from exc
    except UpstreamUnavailable as exc:
        raise PanelUnavailable(
            _("The control panel cannot be reached right now; try again in a minute.")
        ) from exc
    if urlsplit(url).scheme not in ("http", "https"):
        raise PanelUnavailable(_("The control panel sent an address that cannot be opened."))
    return url
