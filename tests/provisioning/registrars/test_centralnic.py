"""The CentralNic Reseller module, through the official client library, against the local
stand-in of the API over HTTP. The stand-in refuses any parameter its command reference
does not list; the module-scoped server is checked at the end for such requests."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date

import idna
import pytest

from provisioning.modules.base import ServerConnection
from provisioning.registrars.base import (
    Contact,
    DomainStatus,
    DomainUnavailableError,
    DsRecord,
    ErrorKind,
    RegistryError,
    RegistryUnavailableError,
    TransferStatus,
)
from provisioning.registrars.centralnic import CentralNicRegistrar
from sandbox.centralnic_server import CentralNicServer

NS = ["ns1.dns-host.example", "ns2.dns-host.example"]
PERSON = Contact(
    name="Giulia Bianchi",
    email="giulia.bianchi@example.org",
    phone="+39.0298765432",
    street=("Corso Buenos Aires 10",),
    city="Milano",
    postcode="20124",
    country_code="IT",
)


@pytest.fixture(scope="module")
def api() -> Iterator[CentralNicServer]:
    with CentralNicServer() as server:
        yield server
        assert server.invalid_requests == []


def connection(api: CentralNicServer, password: str = "reseller-pw") -> ServerConnection:
    return ServerConnection(
        hostname="127.0.0.1",
        port=0,
        username="tessera-reseller",
        secret=password,
        timeout_s=10,
        extra={"url": api.url},
    )


@pytest.fixture
def cnr(api: CentralNicServer) -> CentralNicRegistrar:
    return CentralNicRegistrar(connection(api))


@pytest.fixture
def handle(cnr: CentralNicRegistrar) -> str:
    return cnr.contact_create(PERSON)


def test_connection_and_wrong_password(cnr: CentralNicRegistrar, api: CentralNicServer) -> None:
    assert "balance 1000.00 EUR" in cnr.test_connection()
    with pytest.raises(RegistryError) as refused:
        CentralNicRegistrar(connection(api, "wrong-pw")).test_connection()
    assert refused.value.code == 530 and refused.value.kind == ErrorKind.AUTHORIZATION


def test_check(cnr: CentralNicRegistrar, api: CentralNicServer) -> None:
    api.seed_domain("taken-at-cnr.com")
    answers = cnr.check(["free-at-cnr.com", "taken-at-cnr.com", "x.unserved"])
    assert [a.available for a in answers] == [True, False, False]
    assert answers[1].reason == "Domain name not available"


def test_register_renew(cnr: CentralNicRegistrar, api: CentralNicServer, handle: str) -> None:
    info = cnr.register("cnr-shop.com", 2, NS, handle)
    assert info.status == DomainStatus.ACTIVE and info.registrant == handle and info.locked
    assert info.nameservers == tuple(NS)
    assert api.domain("cnr-shop.com")["contacts"]["OWNERCONTACT"] == handle
    # A registration replayed after a lost reply answers the same domain.
    assert cnr.register("cnr-shop.com", 2, NS, handle).remote_id == info.remote_id
    renewed = cnr.renew("cnr-shop.com", 1, current_expiry=info.expires_on)
    assert renewed.expires_on.year == info.expires_on.year + 1
    assert api.domain("cnr-shop.com")["expires"].date() == renewed.expires_on
    with pytest.raises(RegistryError) as replay:
        cnr.renew("cnr-shop.com", 1, current_expiry=info.expires_on)
    assert replay.value.code == 542 and replay.value.kind == ErrorKind.POLICY
    with pytest.raises(RegistryError) as too_long:
        cnr.renew("cnr-shop.com", 9, current_expiry=renewed.expires_on)
    assert too_long.value.code == 556
    assert cnr.info("not-in-the-account.com") is None


def test_register_refusals(cnr: CentralNicRegistrar, api: CentralNicServer, handle: str) -> None:
    api.seed_domain("somebody-elses-cnr.com")
    with pytest.raises(DomainUnavailableError) as taken:
        cnr.register("somebody-elses-cnr.com", 1, NS, handle)
    assert taken.value.code == 554
    with pytest.raises(RegistryError) as unsupported:
        cnr.register("shop.unserved", 1, NS, handle)
    assert unsupported.value.code == 541
    with pytest.raises(RegistryError) as no_contact:
        cnr.register("orphan-cnr.com", 1, NS, "P-NOSUCH")
    assert no_contact.value.code == 545 and no_contact.value.kind == ErrorKind.NOT_FOUND
    api.credit_refused.add("tessera-reseller")
    try:
        with pytest.raises(RegistryError) as no_credit:
            cnr.register("no-credit-cnr.com", 1, NS, handle)
    finally:
        api.credit_refused.discard("tessera-reseller")
    assert no_credit.value.code == 546 and no_credit.value.kind == ErrorKind.BILLING
    assert api.domain("orphan-cnr.com") is None and api.domain("no-credit-cnr.com") is None


def test_idn(cnr: CentralNicRegistrar, api: CentralNicServer, handle: str) -> None:
    a_label = idna.encode("straße-cnr.de", uts46=True).decode()
    assert cnr.register("Straße-cnr.de", 1, NS, handle).domain == a_label
    assert api.domain(a_label) is not None


def test_transfer_in(cnr: CentralNicRegistrar, api: CentralNicServer) -> None:
    code = api.seed_domain("moving-to-cnr.net", auth="Right-Code-2")
    with pytest.raises(RegistryError) as wrong:
        cnr.transfer_request("moving-to-cnr.net", "Wrong-Code-2")
    assert wrong.value.code == 531 and wrong.value.kind == ErrorKind.AUTHORIZATION
    assert "Wrong-Code-2" not in str(wrong.value)
    pending = cnr.transfer_request("moving-to-cnr.net", code)
    assert pending.status == TransferStatus.PENDING
    assert pending.requested_by == "tessera-reseller"
    assert cnr.transfer_request("moving-to-cnr.net", code).pending  # replayed
    api.approve_transfer("moving-to-cnr.net")
    done = cnr.transfer_query("moving-to-cnr.net")
    assert done.completed
    info = cnr.info("moving-to-cnr.net")
    assert info is not None and info.expires_on.year == date.today().year + 2


def test_transfer_cancel(cnr: CentralNicRegistrar, api: CentralNicServer) -> None:
    code = api.seed_domain("maybe-cnr.org")
    cnr.transfer_request("maybe-cnr.org", code)
    assert cnr.transfer_cancel("maybe-cnr.org").status == TransferStatus.CLIENT_CANCELLED
    assert api.domain("maybe-cnr.org")["account"] == "other-reseller"


def test_updates_and_hosts(cnr: CentralNicRegistrar, api: CentralNicServer, handle: str) -> None:
    cnr.register("tuned-cnr.com", 1, NS, handle)
    changed = cnr.set_nameservers("tuned-cnr.com", ["a.other.example", "b.other.example"])
    assert changed.nameservers == ("a.other.example", "b.other.example")
    assert cnr.set_lock("tuned-cnr.com", False).locked is False
    assert cnr.set_lock("tuned-cnr.com", True).locked is True
    with pytest.raises(RegistryError) as hold:
        cnr.set_statuses("tuned-cnr.com", add=("clientHold",))
    assert hold.value.kind == ErrorKind.UNSUPPORTED
    ds = DsRecord(2371, 13, 2, "1F987CC6583E92DF0890718C42" + "0" * 38)
    assert cnr.set_dnssec("tuned-cnr.com", [ds]).ds_records == (ds,)
    other = cnr.contact_create(PERSON)
    assert cnr.set_registrant("tuned-cnr.com", other).registrant == other
    first = cnr.auth_code("tuned-cnr.com")
    second = cnr.auth_code_reset("tuned-cnr.com")
    assert first != second and api.domain("tuned-cnr.com")["auth"] == second
    host = cnr.host_create("ns1.tuned-cnr.com", ["192.0.2.20"])
    assert host.addresses == ("192.0.2.20",)
    assert cnr.host_create("ns1.tuned-cnr.com", ["192.0.2.20"]) == host
    with pytest.raises(RegistryError) as orphan:
        cnr.host_create("ns1.not-ours-cnr.com", ["192.0.2.21"])
    assert orphan.value.code == 550


def test_delete_and_restore(cnr: CentralNicRegistrar, api: CentralNicServer, handle: str) -> None:
    cnr.register("again-cnr.com", 1, NS, handle)
    cnr.set_lock("again-cnr.com", False)
    cnr.delete("again-cnr.com")
    assert cnr.info("again-cnr.com").status == DomainStatus.REDEMPTION
    assert cnr.restore("again-cnr.com").status == DomainStatus.ACTIVE
    cnr.register("lapsed-cnr.com", 1, NS, handle)
    api.expire("lapsed-cnr.com")
    assert cnr.info("lapsed-cnr.com").status == DomainStatus.REDEMPTION


def test_contacts_never_logged(
    cnr: CentralNicRegistrar, api: CentralNicServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    handle = cnr.contact_create(PERSON)
    stored = api.contact(handle)
    assert stored["FIRSTNAME"] == "Giulia" and stored["LASTNAME"] == "Bianchi"
    cnr.contact_update(handle, PERSON)
    bad = Contact(**{**PERSON.__dict__, "phone": "0298765432"})
    with pytest.raises(RegistryError) as refused:
        cnr.contact_create(bad)
    assert refused.value.code == 505
    for value in ("Giulia", "Bianchi", "giulia.bianchi@example.org", "0298765432"):
        assert value not in caplog.text and value not in str(refused.value)


def test_unreachable_api_is_transient() -> None:
    nowhere = ServerConnection(
        hostname="127.0.0.1",
        port=1,
        username="x",
        secret="y",
        timeout_s=2,
        extra={"url": "http://127.0.0.1:1/api/call.cgi"},
    )
    with pytest.raises(RegistryUnavailableError) as down:
        CentralNicRegistrar(nowhere).check(["a-b.com"])
    assert down.value.code == 421
