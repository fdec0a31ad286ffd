"""A tenant's own text for the e-mails its clients receive."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from billing.models.base import TenantModel


class EmailTemplate(TenantModel):
    """The subject and body a tenant wrote for one kind of e-mail (``kind`` is a key of
    ``billing.email_templates.TEMPLATE_KINDS``), in one language or, with a blank
    ``language``, in every language it has not written one for. Both are templates of
    the sandboxed language of ``billing.email_templates``, checked when saved."""

    kind = models.CharField(_("kind"), max_length=64)
    language = models.CharField(_("language"), max_length=8, blank=True)
    subject = models.CharField(_("subject"), max_length=300)
    body = models.TextField(_("body"))
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("e-mail template")
        verbose_name_plural = _("e-mail templates")
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "language"], name="billing_emailtemplate_kind_language_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} ({self.language or '*'})"
