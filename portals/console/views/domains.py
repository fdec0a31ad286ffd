"""The console's domains page: the tenant's own addresses, their DNS verification and
which one is primary."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from portals.common.access import console_page
from portals.console.forms import DomainAddForm
from portals.console.views._helpers import post_int
from tenants import domains
from tenants.models import Domain


@console_page(write="admin")
def domains_view(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant
    form = DomainAddForm(request.POST if request.POST.get("action") == "add" else None)
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "add":
                if form.is_valid():
                    added = domains.custom_domain_add(
                        tenant=tenant, hostname=form.cleaned_data["hostname"]
                    )
                    messages.success(
                        request,
                        _("%(domain)s added. Create its TXT record, then verify it.")
                        % {"domain": added.domain},
                    )
                    return redirect("console:domains")
            else:
                domain = domains.tenant_domain_get(
                    tenant=tenant, domain_id=post_int(request.POST.get("domain"))
                )
                if action == "verify":
                    result = domains.custom_domain_verify(domain=domain)
                    (messages.success if result.verified else messages.error)(
                        request, result.message
                    )
                elif action == "primary":
                    domains.custom_domain_make_primary(domain=domain)
                    messages.success(
                        request, _("%(domain)s is now the primary address.") % {"domain": domain}
                    )
                elif action == "remove":
                    domains.custom_domain_remove(domain=domain)
                    messages.success(request, _("%(domain)s removed.") % {"domain": domain})
                return redirect("console:domains")
        except ValidationError as exc:
            if action == "add":
                form.add_error("hostname", exc)
            else:
                messages.error(request, " ".join(exc.messages))
                return redirect("console:domains")
        except Domain.DoesNotExist:
            raise Http404 from None
    rows = [
        {
            "domain": domain,
            "record": domains.txt_record_name(domain),
            "platform": domains.is_platform_host(domain.domain),
        }
        for domain in domains.tenant_domains(tenant=tenant)
    ]
    return render(
        request,
        "console/domains.html",
        {"form": form, "rows": rows},
        status=400 if form.errors else 200,
    )
