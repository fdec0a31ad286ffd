"""The desk's e-mails sent by a real worker, through the ticket events (committed rows:
no test transaction around them)."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django_tenants.utils import schema_context, tenant_context

from accounts.models import User
from billing import services as billing_services
from support import services
from support.models import NotificationSent


@pytest.mark.worker
def test_opening_a_ticket_mails_from_a_worker(celery_worker_process, tenant_factory):
    """Through the ticket events: opening queues the client's and staff's e-mails, which a
    worker sends in the tenant's schema, once each."""
    created = tenant_factory(name="Zeta Hosting")
    with tenant_context(created.tenant):
        billing_services.billing_settings_update(
            legal_name="Zeta S.r.l.", email_from_address="help@zeta.test"
        )
        client = billing_services.client_create(name="Anna", email="anna@example.test")
        department = services.department_save(name="Help", email="help@zeta.test")
        ticket = services.ticket_open(
            department=department, subject="Hello", body="Is it down?", client=client
        )
    assert connection.schema_name == "public"
    deadline = time.monotonic() + 90
    keys: set[str] = set()
    while time.monotonic() < deadline:
        with tenant_context(created.tenant):
            keys = set(NotificationSent.objects.values_list("key", flat=True))
        if len(keys) == 2:
            break
        time.sleep(0.25)
    with schema_context(created.tenant.schema_name):
        first = ticket.messages.get().pk
        sent = {row.key: row.recipients for row in NotificationSent.objects.all()}
        owner = User.objects.get(kind=User.Kind.STAFF, role=User.Role.OWNER).email
    assert sent == {
        f"ticket_received:{ticket.pk}:{first}": ["anna@example.test"],
        f"staff_ticket_waiting:{ticket.pk}:{first}": [owner],
    }
