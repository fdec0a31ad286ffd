"""What a client reads when its service's control panel does not open, and the browser's
address the panel binds its session to; the rule itself is ``resale.panel``."""

from __future__ import annotations

import ipaddress

from allauth.account.adapter import get_adapter
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import HttpRequest
from django.utils.translation import gettext as _

from resale.panel import PanelRefusal, PanelUnavailable


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


def panel_refusal_message(exc: PanelUnavailable) -> str:
    if exc.reason == PanelRefusal.NOT_RESOLD:
        return _("This service has no control panel to open.")
    if exc.reason == PanelRefusal.NOT_ACTIVE:
        return _("The control panel opens only for an active service.")
    if exc.reason == PanelRefusal.NOT_READY:
        return _("The service is still being set up; try again shortly.")
    if exc.reason == PanelRefusal.REFUSED:
        return _("The control panel cannot be opened right now (%(reason)s).") % {
            "reason": exc.detail
        }
    if exc.reason == PanelRefusal.UNREACHABLE:
        return _("The control panel cannot be reached right now; try again in a minute.")
    if exc.reason == PanelRefusal.LOGIN_BY_LINK:
        return _("This control panel signs you in directly: use “Open control panel”.")
    if exc.reason == PanelRefusal.BAD_LOGIN:
        return _("The control panel sent a login that cannot be used.")
    return _("The control panel sent an address that cannot be opened.")
