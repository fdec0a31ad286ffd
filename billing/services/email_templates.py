"""A tenant's own e-mail texts: written, checked and audited here, read back by
``billing.emails.email_override_get``."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from audit.services import audit_record
from billing.email_templates import TEMPLATE_LANGUAGES, template_check, template_kind
from billing.models import EmailTemplate

SUBJECT_MAX_LENGTH = 300


def _object_id(kind: str, language: str) -> str:
    return f"{kind}:{language or '*'}"


def email_template_check(*, kind: str, language: str, subject: str, body: str) -> None:
    """ValidationError keyed by field (subject, body, language) when the text may not
    be saved: what the editor shows next to each input before a preview or a test."""
    template_kind(kind)
    if language not in TEMPLATE_LANGUAGES:
        raise ValidationError({"language": [_("Choose one of the offered languages.")]})
    errors: dict[str, list[str]] = {}
    for field, text in (("subject", subject), ("body", body)):
        if not text.strip():
            errors[field] = [_("This field is required.")]
            continue
        try:
            template_check(text, kind=kind)
        except ValidationError as exc:
            errors[field] = exc.messages
    if len(subject) > SUBJECT_MAX_LENGTH and "subject" not in errors:
        errors["subject"] = [
            _("The subject is too long: at most %(count)s characters.")
            % {"count": SUBJECT_MAX_LENGTH}
        ]
    if errors:
        # Keyed by field, so the editor shows each message next to its input.
        raise ValidationError(errors)


@transaction.atomic
def email_template_save(
    *, kind: str, language: str, subject: str, body: str, user: Any = None
) -> EmailTemplate:
    """Writes the tenant's text for ``kind`` in ``language`` ("" for every language).
    A text that uses a tag, filter or value it may not is refused (ValidationError)
    and nothing changes."""
    email_template_check(kind=kind, language=language, subject=subject, body=body)
    row = EmailTemplate.objects.select_for_update().filter(kind=kind, language=language).first()
    before = {"subject": row.subject, "body": row.body} if row is not None else None
    row = row or EmailTemplate(kind=kind, language=language)
    row.subject = subject.strip()
    row.body = body.strip()
    row.updated_by = user if getattr(user, "pk", None) else None
    row.save()
    audit_record(
        action="email_template.saved",
        object_type="email_template",
        object_id=_object_id(kind, language),
        before=before,
        after={"subject": row.subject, "body": row.body},
    )
    return row


@transaction.atomic
def email_template_reset(*, kind: str, language: str) -> bool:
    """Back to the built-in text: the tenant's text for ``kind`` in ``language`` is
    removed. Returns whether there was one."""
    template_kind(kind)
    row = EmailTemplate.objects.select_for_update().filter(kind=kind, language=language).first()
    if row is None:
        return False
    before = {"subject": row.subject, "body": row.body}
    row.delete()
    audit_record(
        action="email_template.reset",
        object_type="email_template",
        object_id=_object_id(kind, language),
        before=before,
    )
    return True
