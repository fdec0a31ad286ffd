"""What a client reads when its service's control panel does not open; the rule itself is
``resale.panel``."""

from __future__ import annotations

from django.utils.translation import gettext as _

from resale.panel import PanelRefusal, PanelUnavailable


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
    return _("The control panel sent an address that cannot be opened.")
