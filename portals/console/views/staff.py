"""The console's staff page: invitations, roles and who may log in."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from accounts import staff
from accounts.branding import branding_get
from accounts.models import User
from accounts.two_factor import security_settings_get
from portals.common.access import console_page
from portals.console import selectors as console_selectors
from portals.console.forms import StaffInviteForm
from portals.console.views._helpers import post_int


@console_page(write="admin")
def staff_view(request: HttpRequest) -> HttpResponse:
    form = StaffInviteForm(request.POST if request.POST.get("action") == "invite" else None)
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "invite":
                if form.is_valid():
                    invited = staff.staff_invite(
                        email=form.cleaned_data["email"],
                        full_name=form.cleaned_data["full_name"],
                        role=form.cleaned_data["role"],
                        invited_by=request.user,
                        hostname=request.get_host().split(":")[0],
                        site_name=branding_get().company_name or request.tenant.name,
                    )
                    messages.success(
                        request,
                        _("Invitation sent to %(email)s.") % {"email": invited.email},
                    )
                    return redirect("console:staff")
            else:
                member = get_object_or_404(
                    User, pk=post_int(request.POST.get("user")), kind=User.Kind.STAFF
                )
                if action == "role":
                    staff.staff_role_set(
                        user=member, role=request.POST.get("role", ""), changed_by=request.user
                    )
                elif action in ("deactivate", "activate"):
                    staff.staff_active_set(
                        user=member, active=action == "activate", changed_by=request.user
                    )
                messages.success(request, _("Saved."))
                return redirect("console:staff")
        except ValidationError as exc:
            if action == "invite":
                form.add_error(None, exc)
            else:
                messages.error(request, " ".join(exc.messages))
                return redirect("console:staff")
    return render(
        request,
        "console/staff.html",
        {
            "form": form,
            "members": console_selectors.staff_members(),
            "roles": User.Role.choices,
            "two_factor_required": security_settings_get().staff_two_factor_required,
        },
        status=400 if form.errors else 200,
    )
