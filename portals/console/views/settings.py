"""The console's settings page: the billing identity, numbering and dunning, tax rules,
and whether staff must use two-factor authentication."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django_tenants.utils import get_public_schema_name, schema_context

from accounts.two_factor import (
    security_settings_get,
    staff_without_two_factor_count,
    two_factor_enabled,
)
from billing.errors import BillingError
from billing.models import TaxRule
from billing.selectors import billing_settings_get
from billing.services import billing_settings_update, tax_rule_set
from portals.common.access import capability_require, console_page
from portals.console.forms import SettingsForm, StaffTwoFactorForm, TaxRuleForm
from portals.console.views._helpers import post_int
from tenants import staff
from tenants.models import Tenant

SETTINGS_FIELDS = [name for name in SettingsForm.base_fields if name != "default_language"]


@console_page(write="admin")
def settings_view(request: HttpRequest) -> HttpResponse:
    current = billing_settings_get()
    initial = {name: getattr(current, name) for name in SETTINGS_FIELDS}
    initial["reminder_days"] = ", ".join(str(day) for day in current.reminder_days or [])
    initial["default_language"] = request.tenant.default_language
    action = request.POST.get("action") if request.method == "POST" else None
    form = SettingsForm(request.POST if action == "settings" else None, initial=initial)
    tax_form = TaxRuleForm(request.POST if action == "tax" else None, prefix="tax")
    security = security_settings_get()
    two_factor_form = StaffTwoFactorForm(
        request.POST if action == "two_factor" else None,
        initial={"required": security.staff_two_factor_required},
        prefix="two_factor",
    )
    if action == "two_factor":
        # Administrators may save the rest of this page, but not this.
        capability_require(request, "owner")
    if action == "two_factor" and two_factor_form.is_valid():
        required = two_factor_form.cleaned_data["required"]
        try:
            staff.staff_two_factor_require_set(required=required, changed_by=request.user)
        except ValidationError as exc:
            two_factor_form.add_error(None, exc)
        else:
            if required:
                saved = _(
                    "Two-factor authentication is now required for all staff. Those who have "
                    "not set it up will be asked to the next time they open the console."
                )
            else:
                saved = _("Two-factor authentication is no longer required.")
            messages.success(request, saved)
            return redirect("console:settings")
    if action == "settings" and form.is_valid():
        data = dict(form.cleaned_data)
        language = data.pop("default_language")
        try:
            billing_settings_update(**data, default_language=language)
        except BillingError as exc:
            form.add_error(None, str(exc))
        else:
            _tenant_language_set(request.tenant, language)
            messages.success(request, _("Settings saved."))
            return redirect("console:settings")
    if action == "tax" and tax_form.is_valid():
        try:
            tax_rule_set(**tax_form.cleaned_data)
        except BillingError as exc:
            tax_form.add_error(None, str(exc))
        else:
            messages.success(request, _("Tax rule saved."))
            return redirect("console:settings")
    if action == "tax_remove":
        rule = get_object_or_404(TaxRule, pk=post_int(request.POST.get("rule")), is_active=True)
        # A rule is never deleted: issued invoices name it; it just stops applying.
        rule.is_active = False
        rule.save(update_fields=["is_active"])
        messages.success(request, _("Tax rule removed."))
        return redirect("console:settings")
    return render(
        request,
        "console/settings.html",
        {
            "form": form,
            "tax_form": tax_form,
            "rules": TaxRule.objects.filter(is_active=True),
            "two_factor_form": two_factor_form,
            "two_factor_required": security.staff_two_factor_required,
            "two_factor_own": two_factor_enabled(request.user),
            "staff_without_two_factor": staff_without_two_factor_count(),
        },
        status=400 if form.errors or tax_form.errors or two_factor_form.errors else 200,
    )


def _tenant_language_set(tenant, language: str) -> None:
    if tenant.default_language == language:
        return
    with schema_context(get_public_schema_name()):
        Tenant.objects.filter(pk=tenant.pk).update(default_language=language)
    tenant.default_language = language
