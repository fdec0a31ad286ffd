"""Single sign-on into the control panel of a tenant's resold service, one rule for every
way in (the client area, the tenant API): the service must be resold and active and its
creation reported by the upstream, and only an http(s) address from the upstream is
handed out. The upstream makes a one-time login URL; nothing is stored."""

from __future__ import annotations

from enum import StrEnum
from urllib.parse import urlsplit

from billing.models import Service
from resale.selectors import service_is_resold, service_upstream_ref
from resale.services import ResaleError
from resale.upstreams import UpstreamRejected, UpstreamUnavailable, upstream_for_current_tenant


class PanelRefusal(StrEnum):
    NOT_RESOLD = "not_resold"
    NOT_ACTIVE = "not_active"
    NOT_READY = "not_ready"  # the upstream has not reported the service's creation yet
    REFUSED = "refused"  # the upstream said no
    UNREACHABLE = "unreachable"  # the upstream could not be reached: try again later
    BAD_URL = "bad_url"  # the upstream answered with an address a browser must not open
    LOGIN_BY_LINK = "login_by_link"  # the panel signs in by link: there is no login to reset
    BAD_LOGIN = "bad_login"  # the upstream answered with a login that cannot be used


class PanelUnavailable(Exception):
    """Why the panel does not open; ``detail`` is the upstream's own words, if any. Each
    surface words the reason for its audience."""

    def __init__(self, reason: PanelRefusal, detail: str = "") -> None:
        super().__init__(detail or reason.value)
        self.reason = reason
        self.detail = detail


def _service_reference(service: Service) -> str:
    if not service_is_resold(service):
        raise PanelUnavailable(PanelRefusal.NOT_RESOLD)
    if service.status != Service.Status.ACTIVE:
        raise PanelUnavailable(PanelRefusal.NOT_ACTIVE)
    reference = service_upstream_ref(service=service)
    if not reference:
        raise PanelUnavailable(PanelRefusal.NOT_READY)
    return reference


def _upstream_refusal(exc: Exception) -> PanelUnavailable:
    if isinstance(exc, UpstreamRejected):
        if getattr(exc, "code", "") == "login_by_link":
            return PanelUnavailable(PanelRefusal.LOGIN_BY_LINK, str(exc))
        return PanelUnavailable(PanelRefusal.REFUSED, str(exc))
    if isinstance(exc, UpstreamUnavailable):
        return PanelUnavailable(PanelRefusal.UNREACHABLE, str(exc))
    assert isinstance(exc, ResaleError)
    # The local upstream lets the provider's own refusal through unwrapped.
    if exc.code == "login_by_link":
        return PanelUnavailable(PanelRefusal.LOGIN_BY_LINK, exc.message)
    reason = PanelRefusal.UNREACHABLE if exc.code == "panel_unavailable" else PanelRefusal.REFUSED
    return PanelUnavailable(reason, exc.message)


def service_panel_url(*, service: Service, client_ip: str = "") -> str:
    """The one-time login link of ``service``'s panel, for the browser at ``client_ip``
    (the address the portal sees behind our proxies), which Plesk binds the session to."""
    reference = _service_reference(service)
    try:
        url = upstream_for_current_tenant().sso_url(service_ref=reference, client_ip=client_ip)
    except (UpstreamRejected, UpstreamUnavailable, ResaleError) as exc:
        raise _upstream_refusal(exc) from exc
    if urlsplit(url).scheme not in ("http", "https"):
        raise PanelUnavailable(PanelRefusal.BAD_URL)
    return url


def service_panel_login_reset(*, service: Service) -> dict[str, str]:
    """A new password for the client's own user on a panel that cannot log anyone in by
    link (Proxmox): ``{"url", "login", "password"}``, to show once and keep nowhere."""
    reference = _service_reference(service)
    try:
        login = upstream_for_current_tenant().panel_login_reset(service_ref=reference)
    except (UpstreamRejected, UpstreamUnavailable, ResaleError) as exc:
        raise _upstream_refusal(exc) from exc
    if urlsplit(login.get("url", "")).scheme not in ("http", "https") or not login.get("password"):
        raise PanelUnavailable(PanelRefusal.BAD_LOGIN)
    return login
