"""Single sign-on into a service's control panel. For a resold service the upstream (the
provider, or a remote installation) makes a one-time login URL, bound to the client's
address where the panel asks for it; the client's browser is sent there and nothing is
stored. A panel that cannot log anyone in by link (Proxmox) gives the client's own panel
user a new password instead, which the client sees once."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from allauth.account.adapter import get_adapter
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import HttpRequest
from django.utils.translation import gettext as _

from billing.models import Service


class PanelUnavailable(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def request_client_ip(request: HttpRequest) -> str:
    """The browser's address as the login rate limits read it: from X-Forwarded-For
    behind our own proxies (``TESSERA_NUM_PROXIES``), otherwise the socket's. Empty when
    it cannot be told."""
    try:
        address = get_adapter(request).get_client_ip(request)
    except (PermissionDenied, ImproperlyConfigured):
        return ""
    try:
        return str(ipaddress.ip_address(address.strip()))
    except ValueError:
        return ""


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


def _panel_reference(service: Service) -> str:
    """The upstream's id of a service whose panel may be opened now."""
    if not service_is_resold(service):
        raise PanelUnavailable(_("This service has no control panel to open."))
    if service.status != Service.Status.ACTIVE:
        raise PanelUnavailable(_("The control panel opens only for an active service."))
    reference = service_upstream_ref(service)
    if not reference:
        raise PanelUnavailable(_("The service is still being set up; try again shortly."))
    return reference


def service_panel_url(service: Service, *, client_ip: str = "") -> str:
    """The login link for ``service``'s panel, for the browser at ``client_ip`` (the
    address the client area sees behind our proxies), which Plesk binds the session to."""
    from resale.upstreams import UpstreamRejected, UpstreamUnavailable, upstream_for_current_tenant

    reference = _panel_reference(service)
    try:
        url = upstream_for_current_tenant().sso_url(service_ref=reference, client_ip=client_ip)
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


def service_panel_login_reset(service: Service) -> dict[str, str]:
    """A new password for the client's own user on a panel that cannot log anyone in by
    link (Proxmox): ``{"url", "login", "password"}``, to show once and keep nowhere."""
    from resale.upstreams import UpstreamRejected, UpstreamUnavailable, upstream_for_current_tenant

    reference = _panel_reference(service)
    try:
        login = upstream_for_current_tenant().panel_login_reset(service_ref=reference)
    except UpstreamRejected as exc:
        if exc.code == "login_by_link":
            raise PanelUnavailable(
                _("This control panel signs you in directly: use “Open control panel”.")
            ) from exc
        raise PanelUnavailable(
            _("The control panel cannot be opened right now (%(reason)s).") % {"reason": exc}
        ) from exc
    except UpstreamUnavailable as exc:
        raise PanelUnavailable(
            _("The control panel cannot be reached right now; try again in a minute.")
        ) from exc
    if urlsplit(login.get("url", "")).scheme not in ("http", "https") or not login.get("password"):
        raise PanelUnavailable(_("The control panel sent a login that cannot be used."))
    return login
