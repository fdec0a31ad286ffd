"""The console's support desk: queues and filters, replies with canned text, internal
notes, assignment, merge, split, SLA highlighting and the settings pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from audit.models import AuditEntry
from support import services
from support.models import CannedReply, Department, SlaPolicy, Ticket
from tests.portals.conftest import staff_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk_a(shop_a, tenant_a):
    with schema_context(tenant_a.schema):
        general = services.department_save(name="Technical support")
        sales = services.department_save(name="Sales")
        canned = services.canned_reply_save(title="Fixed", body="We fixed it for you.")
        first = services.ticket_open(
            department=general, subject="Site down", body="500 errors", client=shop_a.client
        )
        second = services.ticket_open(
            department=sales,
            subject="Discount?",
            body="For ten sites",
            client=shop_a.client,
            priority="low",
        )
    return {"general": general, "sales": sales, "canned": canned, "first": first, "second": second}


def test_the_queue_filters_and_searches(tenant_a, desk_a):
    browser = tenant_a.client(tenant_a.owner)
    page = browser.get("/console/support/").content.decode()
    assert "Site down" in page and "Discount?" in page
    page = browser.get(f"/console/support/?department={desk_a['sales'].public_id}").content.decode()
    assert "Discount?" in page and "Site down" not in page
    page = browser.get("/console/support/?priority=low").content.decode()
    assert "Discount?" in page and "Site down" not in page
    page = browser.get("/console/support/?q=500+errors").content.decode()
    assert "Site down" in page and "Discount?" not in page
    page = browser.get("/console/support/?assignee=me").content.decode()
    assert "No tickets here." in page
    # Nonsense in the filters is ignored, never a 500.
    assert browser.get("/console/support/?status=bogus&department=nope").status_code == 200


def test_reply_with_canned_text_and_an_internal_note(tenant_a, desk_a):
    browser = tenant_a.client(tenant_a.owner)
    ticket = desk_a["first"]
    url = f"/console/support/{ticket.public_id}/"
    page = browser.get(url).content.decode()
    assert "We fixed it for you." in page  # offered to the page's script
    response = browser.post(f"{url}reply/", {"canned": str(desk_a["canned"].public_id)})
    assert response.status_code == 302
    browser.post(f"{url}reply/", {"body": "Customer is touchy", "internal": "on"})
    with schema_context(tenant_a.schema):
        ticket.refresh_from_db()
        assert ticket.status == Ticket.Status.ANSWERED
        bodies = list(ticket.messages.values_list("body", "is_internal"))
    assert bodies[-2:] == [("We fixed it for you.", False), ("Customer is touchy", True)]
    page = browser.get(url).content.decode()
    assert "Customer is touchy" in page and "Internal note" in page
    # Neither text nor canned reply: an error, nothing written.
    browser.post(f"{url}reply/", {"body": ""})
    with schema_context(tenant_a.schema):
        assert ticket.messages.count() == 3


def test_read_only_staff_read_but_do_not_write(tenant_a, desk_a):
    browser = tenant_a.client(tenant_a.readonly)
    url = f"/console/support/{desk_a['first'].public_id}/"
    assert browser.get(url).status_code == 200
    assert browser.post(f"{url}reply/", {"body": "hi"}).status_code == 403
    # Settings are read by every staff member, as the console's other settings are.
    assert browser.get("/console/support/settings/").status_code == 200
    assert browser.post("/console/support/settings/", {"high": "1"}).status_code == 403


def test_support_staff_answer_but_do_not_change_settings(tenant_a, desk_a):
    agent = staff_member(tenant_a, "support")
    browser = tenant_a.client(agent)
    url = f"/console/support/{desk_a['first'].public_id}/"
    assert browser.post(f"{url}reply/", {"body": "On it"}).status_code == 302
    assert browser.post("/console/support/settings/", {"high": "1"}).status_code == 403


def test_assign_update_merge_split(tenant_a, desk_a):
    browser = tenant_a.client(tenant_a.owner)
    first, second = desk_a["first"], desk_a["second"]
    url = f"/console/support/{first.public_id}/"
    browser.post(f"{url}assign/", {"assignee": str(tenant_a.owner.pk)})
    browser.post(
        f"{url}update/",
        {"status": "on_hold", "priority": "urgent", "department": str(desk_a["general"].public_id)},
    )
    with schema_context(tenant_a.schema):
        first.refresh_from_db()
        assert first.assignee_id == tenant_a.owner.pk
        assert (first.status, first.priority) == ("on_hold", "urgent")
        assert AuditEntry.objects.filter(action="support.ticket.assign").exists()
    page = browser.get("/console/support/?assignee=me&status=").content.decode()
    assert "Site down" in page
    # Merge the sales ticket into the first, by the number staff see.
    response = browser.post(
        f"/console/support/{second.public_id}/merge/", {"target": str(first.pk)}
    )
    assert response["Location"] == url
    with schema_context(tenant_a.schema):
        assert first.messages.count() == 2
        moved = first.messages.get(body="For ten sites")
    # And split it out again.
    response = browser.post(f"{url}split/", {"subject": "Discount again", "messages": [moved.pk]})
    with schema_context(tenant_a.schema):
        new = Ticket.objects.get(subject="Discount again")
        assert list(new.messages.values_list("body", flat=True)) == ["For ten sites"]
        assert AuditEntry.objects.filter(action="support.ticket.merge").exists()
        assert AuditEntry.objects.filter(action="support.ticket.split").exists()
    assert response["Location"] == f"/console/support/{new.public_id}/"
    # Bad input: a number that is no ticket, nothing chosen to split.
    browser.post(f"{url}merge/", {"target": "999999"})
    browser.post(f"{url}split/", {"subject": "Nothing"})
    with schema_context(tenant_a.schema):
        assert not Ticket.objects.filter(subject="Nothing").exists()


def test_overdue_tickets_are_highlighted(tenant_a, desk_a):
    with schema_context(tenant_a.schema):
        Ticket.objects.filter(pk=desk_a["first"].pk).update(
            sla_due_at=timezone.now() - timedelta(hours=1)
        )
    browser = tenant_a.client(tenant_a.owner)
    page = browser.get("/console/support/").content.decode()
    assert page.count('class="overdue"') == 1
    assert "Overdue" in page
    page = browser.get("/console/support/?overdue=on").content.decode()
    assert "Site down" in page and "Discount?" not in page
    page = browser.get(f"/console/support/{desk_a['first'].public_id}/").content.decode()
    assert "The answer was due" in page


def test_settings_pages(tenant_a, desk_a):
    browser = tenant_a.client(tenant_a.owner)
    assert browser.get("/console/support/settings/").status_code == 200
    response = browser.post(
        "/console/support/departments/new/",
        {
            "name": "Billing",
            "email": "billing@alpha.test",
            "client_access": "all",
            "allow_guests": "on",
            "auto_close_days": "5",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    response = browser.post(
        "/console/support/canned/new/", {"title": "Hello", "body": "Hello there", "department": ""}
    )
    assert response.status_code == 302
    response = browser.post("/console/support/settings/", {"high": "4", "urgent": "1"})
    assert response.status_code == 302
    with schema_context(tenant_a.schema):
        billing = Department.objects.get(name="Billing")
        assert (billing.allow_guests, billing.auto_close_days) == (True, 5)
        assert dict(SlaPolicy.objects.values_list("priority", "response_hours")) == {
            "high": 4,
            "urgent": 1,
        }
        canned = CannedReply.objects.get(title="Hello")
    assert browser.get(f"/console/support/departments/{billing.public_id}/").status_code == 200
    response = browser.post(f"/console/support/canned/{canned.public_id}/", {"delete": "1"})
    assert response.status_code == 302
    # Bad input: a clear error, nothing saved.
    response = browser.post("/console/support/settings/", {"high": "-3"})
    assert response.status_code == 400
    response = browser.post(
        "/console/support/departments/new/", {"name": "", "client_access": "all"}
    )
    assert response.status_code == 400
    with schema_context(tenant_a.schema):
        assert not CannedReply.objects.filter(title="Hello").exists()
        assert SlaPolicy.objects.get(priority="high").response_hours == 4
