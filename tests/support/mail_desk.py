"""A tenant whose departments read their mailboxes on the real Dovecot of the inbound
e-mail tests: Support takes clients only, Sales takes guests too."""

from __future__ import annotations

from dataclasses import dataclass

from django_tenants.utils import schema_context

from sandbox.dovecot import DovecotServer

MAILBOX_PASSWORD = "imap-secret-1"


@dataclass
class MailDesk:
    schema: str
    host: str
    support: object  # Department: clients only
    sales: object  # Department: guests welcome
    support_mailbox: object
    sales_mailbox: object
    client: object
    imap: DovecotServer

    def deliver(self, to_login: str, raw: bytes) -> int:
        return self.imap.deliver(to_login, raw)


def mail_desk_build(schema: str, host: str, imap: DovecotServer) -> MailDesk:
    from billing.services import client_create
    from support.inbound import mailbox_save
    from support.services import department_save

    domain = host.split(":")[0]
    support_address, sales_address = f"support@{domain}", f"sales@{domain}"
    imap.user_add(support_address, MAILBOX_PASSWORD)
    imap.user_add(sales_address, MAILBOX_PASSWORD)
    with schema_context(schema):
        support = department_save(name="Support", email=support_address, allow_guests=False)
        sales = department_save(name="Sales", email=sales_address, allow_guests=True)
        mailboxes = [
            mailbox_save(
                department=department,
                host=imap.host,
                port=imap.port,
                security="plain",
                username=address,
                password=MAILBOX_PASSWORD,
            )
            for department, address in ((support, support_address), (sales, sales_address))
        ]
        client = client_create(name="Mario Rossi", email="mario.rossi@client-mail.test")
    return MailDesk(schema, host, support, sales, *mailboxes, client, imap)
