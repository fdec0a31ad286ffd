"""The console's e-mails page: the tenant's own text for each e-mail its clients
receive, per language, with a preview, a test sent to oneself and a way back to the
built-in text."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from billing import emails, services
from billing.email_templates import TEMPLATE_KINDS, TEMPLATE_LANGUAGES, template_kind
from billing.selectors import email_template_get, email_templates_written
from portals.common.access import console_page
from portals.console.forms import EmailTemplateForm

# In URLs, the text for every language is "all" (a path segment cannot be empty).
ALL_LANGUAGES = "all"


def _language_labels() -> dict[str, str]:
    return {"": _("All languages"), "en": "English", "it": "Italiano", "ru": "Русский"}


def _language_from_url(value: str) -> str:
    language = "" if value == ALL_LANGUAGES else value
    if language not in TEMPLATE_LANGUAGES:
        raise Http404
    return language


@console_page
def email_templates(request: HttpRequest) -> HttpResponse:
    written = email_templates_written()
    labels = _language_labels()
    rows = [
        {
            "kind": kind,
            "cells": [
                {
                    "language": language or ALL_LANGUAGES,
                    "label": labels[language],
                    "customised": (kind.key, language) in written,
                }
                for language in TEMPLATE_LANGUAGES
            ],
        }
        for kind in TEMPLATE_KINDS.values()
    ]
    return render(
        request,
        "console/email_templates.html",
        {"rows": rows, "languages": [labels[language] for language in TEMPLATE_LANGUAGES]},
    )


def _save(request: HttpRequest, kind: str, language: str, data: dict) -> HttpResponse | None:
    services.email_template_save(
        kind=kind, language=language, subject=data["subject"], body=data["body"], user=request.user
    )
    messages.success(request, _("E-mail text saved: the next e-mail uses it."))
    return redirect("console:email-template", kind=kind, language=language or ALL_LANGUAGES)


def _test(request: HttpRequest, kind: str, language: str, data: dict) -> HttpResponse | None:
    if not request.user.email:
        raise ValidationError(_("Your account has no e-mail address to send the test to."))
    emails.email_test_send(
        kind, language=language, subject=data["subject"], body=data["body"], to=request.user.email
    )
    messages.success(request, _("Test e-mail sent to %(email)s.") % {"email": request.user.email})
    return None


@console_page(write="admin")
def email_template_edit(request: HttpRequest, kind: str, language: str) -> HttpResponse:
    try:
        template = template_kind(kind)
    except ValidationError:
        raise Http404 from None
    language = _language_from_url(language)
    if request.method == "POST" and request.POST.get("action") == "reset":
        if services.email_template_reset(kind=kind, language=language):
            messages.success(request, _("Back to the built-in text."))
        return redirect("console:email-template", kind=kind, language=language or ALL_LANGUAGES)

    row = email_template_get(kind=kind, language=language)
    default_subject, default_body = emails.email_default_text(kind, language)
    initial = {
        "subject": row.subject if row else default_subject,
        "body": row.body if row else default_body,
    }
    form = EmailTemplateForm(request.POST if request.method == "POST" else None, initial=initial)
    preview = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            # Every action checks and renders the text first: a text that may not be
            # used is refused, next to its input, before anything is saved or sent.
            services.email_template_check(
                kind=kind, language=language, subject=data["subject"], body=data["body"]
            )
            preview = emails.email_preview(
                kind, language=language, subject=data["subject"], body=data["body"]
            )
            action = {"save": _save, "test": _test}.get(request.POST.get("action", ""))
            response = action(request, kind, language, data) if action else None
            if response is not None:
                return response
        except ValidationError as exc:
            preview = None
            if hasattr(exc, "error_dict"):
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                form.add_error(None, exc.messages)
    if request.method != "POST":
        # What the current text looks like, before any change.
        try:
            preview = emails.email_preview(
                kind, language=language, subject=initial["subject"], body=initial["body"]
            )
        except ValidationError:
            preview = None
    return render(
        request,
        "console/email_template.html",
        {
            "kind": template,
            "language_code": language or ALL_LANGUAGES,
            "language_label": _language_labels()[language],
            "row": row,
            "form": form,
            "preview": preview,
            "default_subject": default_subject,
            "default_body": default_body,
        },
        status=400 if form.errors else 200,
    )
