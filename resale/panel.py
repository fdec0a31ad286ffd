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


class PanelUnavailable(Exception):
    """Why the panel does not open; ``detail`` is the upstream's own words, if any. Each
    surface words the reason for its audience."""

    def __init__(self, reason: PanelRefusal, detail: str = "") -> None:
        super().__init__(detail or reason.value)
        self.reason = reason
        self.detail = detail


def service_panel_url(*, service: Service) -> str:
    if not service_is_resold(service):
        raise PanelUnavailable(PanelRefusal.NOT_RESOLD)
    if service.status != Service.Status.ACTIVE:
        raise PanelUnavailable(PanelRefusal.NOT_ACTIVE)
    reference = service_upstream_ref(service=service)
    if not reference:
        raise PanelUnavailable(PanelRefusal.NOT_READY)
    try:
        url = upstream_for_current_tenant().sso_url(service_ref=reference)
    except UpstreamRejected as exc:
        raise PanelUnavailable(PanelRefusal.REFUSED, str(exc)) from exc
    except UpstreamUnavailable as exc:
        raise PanelUnavailable(PanelRefusal.UNREACHABLE, str(exc)) from exc
    except ResaleError as exc:
        # The local upstream lets the provider's own refusal through unwrapped.
        reason = (
            PanelRefusal.UNREACHABLE if exc.code == "panel_unavailable" else PanelRefusal.REFUSED
        )
        raise PanelUnavailable(reason, exc.message) from exc
    if urlsplit(url).scheme not in ("http", "https"):
        raise PanelUnavailable(PanelRefusal.BAD_URL)
    return url
