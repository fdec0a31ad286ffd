"""The audit log. One table in every schema: a tenant's entries stay in its schema (and
leave with it in a tenant export), the provider's in ``public``. Rows are never changed:
``save`` refuses updates and a database trigger refuses UPDATE and DELETE."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AuditImmutableError(Exception):
    pass


class AuditEntry(models.Model):
    class ActorKind(models.TextChoices):
        STAFF = "staff", _("Staff user")
        API_KEY = "api_key", _("API key")
        CLIENT = "client", _("Client")
        SYSTEM = "system", _("System task")
        PROVIDER_STAFF = "provider_staff", _("Provider staff")

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor_kind = models.CharField(max_length=16, choices=ActorKind.choices)
    actor_id = models.CharField(max_length=64, blank=True)
    actor_label = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name_plural = _("audit entries")
        indexes = [
            models.Index(fields=["object_type", "object_id"], name="audit_object_idx"),
            # The export filters by action prefix (LIKE 'x%'); pattern ops serve that and
            # equality alike, so one index replaces the pair db_index=True would make.
            models.Index(
                fields=["action"], name="audit_action_idx", opclasses=["varchar_pattern_ops"]
            ),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.action} {self.object_type} {self.object_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AuditImmutableError("Audit entries are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any):
        raise AuditImmutableError("Audit entries are append-only.")
