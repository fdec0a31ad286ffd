"""The EPP module against the local EPP registry, over TLS on a real socket.

Every frame the module sends is validated by the registry against the RFC schemas; the
module-scoped registry is checked at the end for any frame that was not valid."""

from __future__ import annotations

import logging
import socket
import ssl
import struct
from collections.abc import Iterator
from datetime import date, timedelta

import idna
import pytest
from lxml import etree

from provisioning.modules.base import ServerConnection
from provisioning.registrars import epp as epp_module
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
from provisioning.registrars.epp import EppRegistrar
from sandbox.epp.server import EppServer

PASSWORD = "sandbox-pw"
NS = ["ns1.dns-host.example", "ns2.dns-host.example"]
PERSON = Contact(
    name="Maria Rossi",
    email="maria.rossi@example.org",
    phone="+39.0612345678",
    street=("Via Roma 1",),
    city="Roma",
    postcode="00100",
    country_code="IT",
)


@pytest.fixture(scope="module")
def registry() -> Iterator[EppServer]:
    with EppServer(transfer_delay_s=None) as server:
        yield server
        # Whatever the tests did, the module never sent a frame the RFC schemas refuse.
        assert server.invalid_frames == []
        assert server.reply_errors == []


def connection(registry: EppServer, *, username: str = "tessera", secret: str = PASSWORD):
    return ServerConnection(
        hostname="127.0.0.1",
        port=registry.port,
        username=username,
        secret=secret,
        timeout_s=10,
        extra={"cafile": registry.cafile},
    )


@pytest.fixture
def epp(registry: EppServer) -> Iterator[EppRegistrar]:
    with EppRegistrar(connection(registry)) as module:
        yield module


@pytest.fixture
def handle(epp: EppRegistrar) -> str:
    return epp.contact_create(PERSON)


def test_login_and_connection_test(epp: EppRegistrar) -> None:
    description = epp.test_connection()
    assert "Tessera EPP" in description and "secDNS-1.1" in description


def test_wrong_password_is_an_authentication_error(registry: EppServer) -> None:
    module = EppRegistrar(connection(registry, secret="not-the-pw"))
    with module, pytest.raises(RegistryError) as refused:
        module.check(["anything.com"])
    assert refused.value.code == 2200 and refused.value.kind == ErrorKind.AUTHORIZATION
    assert "not-the-pw" not in str(refused.value)


def test_untrusted_certificate_is_refused(registry: EppServer) -> None:
    untrusted = ServerConnection(
        hostname="127.0.0.1", port=registry.port, username="tessera", secret=PASSWORD
    )
    with EppRegistrar(untrusted) as module, pytest.raises(RegistryError, match="not trusted"):
        module.check(["anything.com"])


def test_check(epp: EppRegistrar, registry: EppServer) -> None:
    registry.seed_domain("held-elsewhere.com")
    answers = epp.check(["free-name.com", "HELD-elsewhere.com", "пример.рф", "x.unserved"])
    assert [a.available for a in answers] == [True, False, True, False]
    assert answers[2].domain == "xn--e1afmkfd.xn--p1ai"
    assert answers[3].reason == "Not served by this registry"


def test_invalid_names_never_reach_the_registry(epp: EppRegistrar, registry: EppServer) -> None:
    sent = len(registry.frames)
    for bad in ("no_underscores.com", "-dash.com", "a" * 64 + ".com", ""):
        with pytest.raises(RegistryError) as invalid:
            epp.check([bad])
        assert invalid.value.kind == ErrorKind.INVALID
    assert len(registry.frames) == sent


def test_register_info_renew(epp: EppRegistrar, registry: EppServer, handle: str) -> None:
    info = epp.register("my-shop.com", 2, NS, handle)
    assert info.status == DomainStatus.ACTIVE and info.registrant == handle
    assert info.nameservers == tuple(NS)
    assert info.expires_on == date.today().replace(year=date.today().year + 2)
    state = registry.domain("my-shop.com")
    assert state["registrant"] == handle and state["sponsor"] == "tessera"
    # A registration replayed after a lost reply is the same domain, not an error.
    assert epp.register("my-shop.com", 2, NS, handle).remote_id == info.remote_id
    renewed = epp.renew("my-shop.com", 1, current_expiry=info.expires_on)
    assert renewed.expires_on == info.expires_on.replace(year=info.expires_on.year + 1)
    assert registry.domain("my-shop.com")["expires"].date() == renewed.expires_on
    # The same renewal again names an expiry date that is no longer the registry's.
    with pytest.raises(RegistryError) as replay:
        epp.renew("my-shop.com", 1, current_expiry=info.expires_on)
    assert replay.value.code == 2306 and replay.value.kind == ErrorKind.POLICY
    with pytest.raises(RegistryError) as too_long:
        epp.renew("my-shop.com", 9, current_expiry=renewed.expires_on)
    assert too_long.value.code == 2306
    assert epp.info("never-registered.com") is None


def test_register_a_taken_or_unsupported_name(
    epp: EppRegistrar, registry: EppServer, handle: str
) -> None:
    registry.seed_domain("somebody-elses.com")
    with pytest.raises(DomainUnavailableError) as taken:
        epp.register("somebody-elses.com", 1, NS, handle)
    assert taken.value.code == 2302 and taken.value.kind == ErrorKind.EXISTS
    with pytest.raises(RegistryError) as unsupported:
        epp.register("my-shop.unserved", 1, NS, handle)
    assert unsupported.value.code == 2306
    with pytest.raises(RegistryError) as no_contact:
        epp.register("orphan.com", 1, NS, "NOSUCHHANDLE")
    assert no_contact.value.code == 2303
    assert registry.domain("orphan.com") is None


def test_billing_failure(epp: EppRegistrar, registry: EppServer, handle: str) -> None:
    registry.billing_refused.add("tessera")
    try:
        with pytest.raises(RegistryError) as unpaid:
            epp.register("no-funds.com", 1, NS, handle)
    finally:
        registry.billing_refused.discard("tessera")
    assert unpaid.value.code == 2104 and unpaid.value.kind == ErrorKind.BILLING


def test_idn_registration(epp: EppRegistrar, registry: EppServer, handle: str) -> None:
    a_label = idna.encode("bücher-shop.com").decode()
    assert a_label.startswith("xn--")
    info = epp.register("Bücher-Shop.com", 1, NS, handle)
    assert info.domain == a_label
    assert registry.domain(a_label) is not None


def test_updates(epp: EppRegistrar, registry: EppServer, handle: str) -> None:
    epp.register("tuned.net", 1, NS, handle)
    changed = epp.set_nameservers("tuned.net", ["a.other-dns.example", "b.other-dns.example"])
    assert changed.nameservers == ("a.other-dns.example", "b.other-dns.example")
    assert epp.set_lock("tuned.net", True).locked
    assert "clientTransferProhibited" in registry.domain("tuned.net")["statuses"]
    assert epp.set_lock("tuned.net", False).locked is False
    ds = DsRecord(12345, 13, 2, "49FD46E6C4B45C55D4AC49FD46E6C4B45C55D4AC49FD46E6C4B45C55D4AC49FD")
    assert epp.set_dnssec("tuned.net", [ds]).ds_records == (ds,)
    assert registry.domain("tuned.net")["ds"][0]["keyTag"] == 12345
    assert epp.set_dnssec("tuned.net", []).ds_records == ()
    other = epp.contact_create(PERSON)
    assert epp.set_registrant("tuned.net", other).registrant == other
    assert registry.domain("tuned.net")["registrant"] == other
    first = epp.auth_code("tuned.net")
    second = epp.auth_code_reset("tuned.net")
    assert first != second and registry.domain("tuned.net")["auth"] == second
    epp.set_statuses("tuned.net", add=("clientUpdateProhibited",))
    with pytest.raises(RegistryError) as prohibited:
        epp.set_registrant("tuned.net", handle)
    assert prohibited.value.code == 2304 and prohibited.value.kind == ErrorKind.PROHIBITED
    epp.set_statuses("tuned.net", remove=("clientUpdateProhibited",))


def test_glue_hosts(epp: EppRegistrar, registry: EppServer, handle: str) -> None:
    epp.register("own-dns.org", 1, NS, handle)
    host = epp.host_create("ns1.own-dns.org", ["192.0.2.10", "2001:db8::10"])
    assert set(host.addresses) == {"192.0.2.10", "2001:db8::10"}
    assert epp.host_create("ns1.own-dns.org", ["2001:db8::10", "192.0.2.10"]) == host
    with pytest.raises(RegistryError) as different:
        epp.host_create("ns1.own-dns.org", ["192.0.2.99"])
    assert different.value.code == 2302
    epp.host_create("ns2.own-dns.org", ["192.0.2.11"])
    info = epp.set_nameservers("own-dns.org", ["ns1.own-dns.org", "ns2.own-dns.org"])
    assert info.nameservers == ("ns1.own-dns.org", "ns2.own-dns.org")
    assert set(info.hosts) == {"ns1.own-dns.org", "ns2.own-dns.org"}
    with pytest.raises(RegistryError) as orphan:
        epp.host_create("ns1.not-registered.org", ["192.0.2.12"])
    assert orphan.value.code == 2303
    assert epp.host_info("ns9.own-dns.org") is None


def test_transfer_in_approved_by_the_registry(epp: EppRegistrar, registry: EppServer) -> None:
    code = registry.seed_domain("moving-in.com", auth_code="Right-Code-1")
    with pytest.raises(RegistryError) as wrong:
        epp.transfer_request("moving-in.com", "Wrong-Code-1")
    assert wrong.value.code == 2202 and wrong.value.kind == ErrorKind.AUTHORIZATION
    assert "Wrong-Code-1" not in str(wrong.value)
    pending = epp.transfer_request("moving-in.com", code, years=1)
    assert pending.status == TransferStatus.PENDING and pending.requested_by == "tessera"
    # A request replayed after a lost reply answers the same pending transfer.
    assert epp.transfer_request("moving-in.com", code).pending
    assert epp.transfer_query("moving-in.com").pending
    registry.approve_transfer("moving-in.com")
    done = epp.transfer_query("moving-in.com")
    assert done.completed and done.status == TransferStatus.SERVER_APPROVED
    assert registry.domain("moving-in.com")["sponsor"] == "tessera"
    info = epp.info("moving-in.com")
    assert info.status == DomainStatus.ACTIVE and info.expires_on > date.today() + timedelta(
        days=700
    )
    notices = epp.poll_drain()
    assert any(
        m.domain == "moving-in.com" and m.transfer_status == "serverApproved" for m in notices
    )
    assert registry.poll_queue("tessera") == [] and epp.poll() is None


def test_transfer_cancel_and_the_losing_side(
    epp: EppRegistrar, registry: EppServer, handle: str
) -> None:
    code = registry.seed_domain("change-of-mind.com")
    epp.transfer_request("change-of-mind.com", code)
    assert epp.transfer_cancel("change-of-mind.com").status == TransferStatus.CLIENT_CANCELLED
    assert registry.domain("change-of-mind.com")["sponsor"] == "otherreg"
    with pytest.raises(RegistryError) as none_pending:
        epp.transfer_cancel("change-of-mind.com")
    assert none_pending.value.code == 2301
    # A domain of ours that another registrar asks for: we reject, then approve.
    epp.register("ours-to-keep.com", 1, NS, handle)
    with pytest.raises(RegistryError) as locked:
        EppRegistrar(connection(registry, username="otherreg", secret="other-pw")).transfer_request(
            "ours-to-keep.com", epp.auth_code("ours-to-keep.com")
        )
    assert locked.value.code == 2304
    epp.set_lock("ours-to-keep.com", False)
    with EppRegistrar(connection(registry, username="otherreg", secret="other-pw")) as other:
        other.transfer_request("ours-to-keep.com", epp.auth_code("ours-to-keep.com"))
        assert epp.transfer_reject("ours-to-keep.com").status == TransferStatus.CLIENT_REJECTED
        other.transfer_request("ours-to-keep.com", epp.auth_code("ours-to-keep.com"))
        with pytest.raises(RegistryError) as not_ours:
            other.transfer_approve("ours-to-keep.com")
        assert not_ours.value.code == 2201
        assert epp.transfer_approve("ours-to-keep.com").status == TransferStatus.CLIENT_APPROVED
        assert registry.domain("ours-to-keep.com")["sponsor"] == "otherreg"
        other.poll_drain()
    epp.poll_drain()


def test_delete_redemption_and_restore(epp: EppRegistrar, registry: EppServer, handle: str) -> None:
    epp.register("second-chance.com", 1, NS, handle)
    epp.set_lock("second-chance.com", False)
    epp.delete("second-chance.com")
    assert epp.info("second-chance.com").status == DomainStatus.REDEMPTION
    assert epp.check(["second-chance.com"])[0].available is False
    restored = epp.restore("second-chance.com")
    assert restored.status == DomainStatus.ACTIVE
    assert registry.domain("second-chance.com")["rgp"] == ""
    with pytest.raises(RegistryError) as not_deleted:
        epp.restore("second-chance.com")
    assert not_deleted.value.code == 2304


def test_expiry_enters_redemption(epp: EppRegistrar, registry: EppServer, handle: str) -> None:
    epp.register("unpaid.com", 1, NS, handle)
    registry.expire("unpaid.com")
    info = epp.info("unpaid.com")
    assert info.status == DomainStatus.REDEMPTION
    with pytest.raises(RegistryError) as no_renewal:
        epp.renew("unpaid.com", 1, current_expiry=info.expires_on)
    assert no_renewal.value.code == 2304
    restored = epp.restore("unpaid.com")
    assert restored.status == DomainStatus.ACTIVE and restored.expires_on > date.today()


def test_contacts_are_created_at_the_registry_and_never_logged(
    epp: EppRegistrar, registry: EppServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    handle = epp.contact_create(PERSON)
    assert handle in registry.contact_ids()
    epp.contact_update(handle, PERSON)
    cyrillic = Contact(
        name="Мария Иванова",
        email="maria@example.ru",
        phone="+7.4951234567",
        street=("ул. Тверская, 1",),
        city="Москва",
        postcode="125009",
        country_code="RU",
    )
    assert epp.contact_create(cyrillic)
    with pytest.raises(RegistryError) as unknown:
        epp.contact_update("TSNOSUCHONE", PERSON)
    assert unknown.value.code == 2303
    for secret in ("Maria", "Rossi", "maria.rossi@example.org", "0612345678", "Via Roma"):
        assert secret not in caplog.text
        assert secret not in str(unknown.value)
    assert "Maria" not in repr(PERSON)


def test_registry_faults_and_reconnection(epp: EppRegistrar, registry: EppServer) -> None:
    epp.check(["warm-up.com"])
    registry.fail_next(2400)
    with pytest.raises(RegistryUnavailableError) as failed:
        epp.check(["during-a-fault.com"])
    assert failed.value.code == 2400
    # The registry ends the session (2500): a read is sent again on a new session...
    registry.fail_next(2500)
    assert epp.check(["while-closing.com"])[0].available
    # ...a write is not (it may have happened): the caller retries, the session is new.
    registry.fail_next(2500)
    with pytest.raises(RegistryUnavailableError) as closing:
        epp.contact_create(PERSON)
    assert closing.value.code == 2500
    assert epp.check(["after-closing.com"])[0].available
    # A session the client side lost is opened again for a read.
    epp._sock.close()
    assert epp.check(["after-a-drop.com"])[0].available


def test_unreachable_registry_is_transient() -> None:
    nowhere = ServerConnection(hostname="127.0.0.1", port=1, username="x", secret="y", timeout_s=2)
    with EppRegistrar(nowhere) as module, pytest.raises(RegistryUnavailableError):
        module.check(["a-b.com"])


def test_every_command_carries_a_client_transaction_id(registry: EppServer) -> None:
    for frame in registry.frames:
        root = etree.fromstring(frame)
        command = root.find("{urn:ietf:params:xml:ns:epp-1.0}command")
        if command is not None:
            assert command.findtext("{urn:ietf:params:xml:ns:epp-1.0}clTRID")


def test_the_registry_approves_a_pending_transfer_after_its_delay() -> None:
    with EppServer(transfer_delay_s=0) as quick:
        code = quick.seed_domain("auto-approved.com")
        with EppRegistrar(connection(quick)) as module:
            assert module.transfer_request("auto-approved.com", code).pending
            assert module.transfer_query("auto-approved.com").status == "serverApproved"
            assert [m.transfer_status for m in module.poll_drain()] == ["serverApproved"]
        assert quick.domain("auto-approved.com")["sponsor"] == "tessera"
        assert quick.invalid_frames == []


def _raw_exchange(sock, payload: bytes) -> bytes:
    sock.sendall(struct.pack(">I", len(payload) + 4) + payload)
    return _raw_frame(sock)


def _raw_frame(sock) -> bytes:
    def exactly(size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = sock.recv(size - len(data))
            assert chunk, "the registry closed the connection"
            data += chunk
        return data

    (total,) = struct.unpack(">I", exactly(4))
    return exactly(total - 4)


def test_the_registry_answers_an_invalid_frame_with_2001_and_records_it() -> None:
    with EppServer() as strict:
        context = ssl.create_default_context(cafile=strict.cafile)
        with (
            socket.create_connection(("127.0.0.1", strict.port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as sock,
        ):
            greeting = etree.fromstring(_raw_frame(sock))
            assert greeting.find("{urn:ietf:params:xml:ns:epp-1.0}greeting") is not None
            # A login whose password is longer than RFC 5730's pwType allows (16).
            bad_login = (
                b'<?xml version="1.0" encoding="UTF-8"?>'
                b'<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"><command><login>'
                b"<clID>tessera</clID><pw>far-too-long-a-password-for-epp</pw>"
                b"<options><version>1.0</version><lang>en</lang></options>"
                b"<svcs><objURI>urn:ietf:params:xml:ns:domain-1.0</objURI></svcs>"
                b"</login><clTRID>ABC-1</clTRID></command></epp>"
            )
            reply = etree.fromstring(_raw_exchange(sock, bad_login))
            result = reply.find(".//{urn:ietf:params:xml:ns:epp-1.0}result")
            assert result.get("code") == "2001"
            # Not even XML.
            reply = etree.fromstring(_raw_exchange(sock, b"<epp><command>"))
            assert reply.find(".//{urn:ietf:params:xml:ns:epp-1.0}result").get("code") == "2001"
        assert len(strict.invalid_frames) == 2
        assert "pwType" in strict.invalid_frames[0].error or "pw" in strict.invalid_frames[0].error


def test_a_closed_module_leaves_its_session_to_the_next_one() -> None:
    with EppServer() as registry:

        def logins() -> int:
            return sum(b"<login>" in frame for frame in registry.frames)

        with EppRegistrar(connection(registry)) as first:
            assert first.check(["one.com"])[0].available
        with EppRegistrar(connection(registry)) as second:
            assert second.check(["two.com"])[0].available
            assert second.test_connection().startswith("EPP Tessera EPP")
        assert logins() == 1
        # A kept session that died meanwhile is noticed by its <hello> and replaced.
        third = EppRegistrar(connection(registry))
        (kept, _extensions, _since) = epp_module._POOL[third._pool_key()][-1]
        kept.close()
        with third:
            assert third.check(["three.com"])[0].available
        assert logins() == 2
        assert registry.invalid_frames == []
