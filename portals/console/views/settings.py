"""The console's settings page: the billing identity, numbering and dunning, tax rules,
and whether staff must use two-factor authentication. Each form of the page posts an
``action``; each action checks its form and calls one service."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from accounts.two_factor import (
    security_settings_get,
    staff_two_factor_require_set,
    staff_without_two_factor_count,
    two_factor_enabled,
)
from billing.errors import BillingError
from billing.models import TaxRule
from billing.selectors import billing_settings_get, tax_rule_list
from billing.services import billing_settings_update, tax_rule_remove, tax_rule_set
from portals.common.access import capability_require, console_page
from portals.console.forms import SettingsForm, StaffTwoFactorForm, TaxRuleForm
from portals.console.views._helpers import post_int
from tenants.services import tenant_default_language_set

SETTINGS_FIELDS = [name for name in SettingsForm.base_fields if name != "default_language"]


@dataclass
class _Forms:
    settings: SettingsForm
    tax: TaxRuleForm
    two_factor: StaffTwoFactorForm


def _forms(request: HttpRequest, action: str | None) -> _Forms:
    """The page's three forms, the posted one bound to the request."""
    current = billing_settings_get()
    initial = {name: getattr(current, name) for name in SETTINGS_FIELDS}
    initial["reminder_days"] = ", ".join(str(day) for day in current.reminder_days or [])
    initial["default_language"] = request.tenant.default_language
    posted = request.POST
    return _Forms(
        settings=SettingsForm(posted if action == "settings" else None, initial=initial),
        tax=TaxRuleForm(posted if action == "tax" else None, prefix="tax"),
        two_factor=StaffTwoFactorForm(
            posted if action == "two_factor" else None,
            initial={"required": security_settings_get().staff_two_factor_required},
            prefix="two_factor",
        ),
    )


def _billing_settings_save(request: HttpRequest, page: _Forms) -> str:
    form = page.settings
    if not form.is_valid():
        return ""
    data = dict(form.cleaned_data)
    language = data.pop("default_language")
    try:
        billing_settings_update(**data, default_language=language)
    except BillingError as exc:
        form.add_error(None, str(exc))
        return ""
    tenant_default_language_set(tenant=request.tenant, language=language)
    return _("Settings saved.")


def _tax_rule_save(request: HttpRequest, page: _Forms) -> str:
    form = page.tax
    if not form.is_valid():
        return ""
    try:
        tax_rule_set(**form.cleaned_data)
    except BillingError as exc:
        form.add_error(None, str(exc))
        return ""
    return _("Tax rule saved.")


def _tax_rule_remove(request: HttpRequest, page: _Forms) -> str:
    rule = get_object_or_404(TaxRule, pk=post_int(request.POST.get("rule")), is_active=True)
    tax_rule_remove(rule=rule)
    return _("Tax rule removed.")


def _two_factor_save(request: HttpRequest, page: _Forms) -> str:
    # Administrators may save the rest of this page, but not this.
    capability_require(request, "owner")
    form = page.two_factor
    if not form.is_valid():
        return ""
    required = form.cleaned_data["required"]
    try:
        staff_two_factor_require_set(required=required, changed_by=request.user)
    except ValidationError as exc:
        form.add_error(None, exc)
        return ""
    if required:
        return _(
            "Two-factor authentication is now required for all staff. Those who have "
            "not set it up will be asked to the next time they open the console."
        )
    return _("Two-factor authentication is no longer required.")


# Each action saves its form through one service and says what it did ("" when it did
# not, its form then carrying the errors).
ACTIONS: dict[str, Callable[[HttpRequest, _Forms], str]] = {
    "settings": _billing_settings_save,
    "tax": _tax_rule_save,
    "tax_remove": _tax_rule_remove,
    "two_factor": _two_factor_save,
}


@console_page(write="admin")
def settings_view(request: HttpRequest) -> HttpResponse:
    action = request.POST.get("action") if request.method == "POST" else None
    page = _forms(request, action)
    if action in ACTIONS:
        saved = ACTIONS[action](request, page)
        if saved:
            messages.success(request, saved)
            return redirect("console:settings")
    bad = page.settings.errors or page.tax.errors or page.two_factor.errors
    return render(
        request,
        "console/settings.html",
        {
            "form": page.settings,
            "tax_form": page.tax,
            "rules": tax_rule_list(),
            "two_factor_form": page.two_factor,
            "two_factor_required": security_settings_get().staff_two_factor_required,
            "two_factor_own": two_factor_enabled(request.user),
            "staff_without_two_factor": staff_without_two_factor_count(),
        },
        status=400 if bad else 200,
    )
