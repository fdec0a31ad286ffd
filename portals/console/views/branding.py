"""The console's branding page: the name, colour, logo and texts clients see."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from accounts.branding import (
    branding_get,
    branding_update,
    color_or_default,
    contrast_with_white,
    terms_versions,
)
from portals.common.access import console_page
from portals.console.forms import BrandingForm


@console_page(write="admin")
def branding(request: HttpRequest) -> HttpResponse:
    current = branding_get()
    initial = {
        "company_name": current.company_name,
        "brand_color": current.brand_color,
        "legal_footer": current.legal_footer,
        "homepage_title": current.homepage_title,
        "homepage_text": current.homepage_text,
        "terms_text": current.terms_text,
    }
    form = BrandingForm(
        request.POST if request.method == "POST" else None,
        request.FILES if request.method == "POST" else None,
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            saved = branding_update(**data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            if contrast_with_white(saved.brand_color) < 3:
                messages.warning(
                    request,
                    _("White text is hard to read on this colour; consider a darker one."),
                )
            messages.success(request, _("Branding saved."))
            return redirect("console:branding")
    return render(
        request,
        "console/branding.html",
        {
            "form": form,
            "current": current,
            "preview_color": color_or_default(form["brand_color"].value() or ""),
            "terms_versions": terms_versions(),
        },
        status=400 if form.errors else 200,
    )
