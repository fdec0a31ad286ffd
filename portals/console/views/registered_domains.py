"""The console's Registered domains: the domains the tenant's clients bought from it
(registered by the provider), with the registry's status and expiry, the domain
commands that failed and why, and the restore of a domain in redemption. Not to be
confused with the Domains section, which holds the hosts of this portal itself."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portals.common.access import console_page
from portals.common.paging import paginate
from resale.domain_portal import (
    DomainRefused,
    domain_commands_failed,
    domain_restore_order,
    resold_domains_list,
)
from resale.models import UpstreamDomain


@console_page
def registered_domains(request: HttpRequest) -> HttpResponse:
    page = paginate(request, resold_domains_list())
    labels = dict(UpstreamDomain.Status.choices)
    for service in page.object_list:
        service.registry_status_label = labels.get(service.registry_status, "")
    return render(
        request,
        "console/registered_domains.html",
        {"page": page, "failed": domain_commands_failed()[:50]},
    )


@require_POST
@console_page(write="service")
def registered_domain_restore(request: HttpRequest, public_id) -> HttpResponse:
    service = get_object_or_404(resold_domains_list(), public_id=public_id)
    try:
        invoice = domain_restore_order(service=service, send_now=True)
    except DomainRefused as exc:
        messages.error(request, _("The domain cannot be restored: %(reason)s") % {"reason": exc})
    else:
        messages.success(
            request,
            _(
                "The restore is sent to the provider; its restore fee and the year it adds "
                "are taken from your balance. The client is invoiced the restore and the "
                "year (invoice %(number)s), and its unpaid renewal is credited."
            )
            % {"number": invoice.number},
        )
    return redirect("console:registered-domains")
