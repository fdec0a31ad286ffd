"""The simulated registrar and the registrar helpers."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import date, timedelta

import pytest

from provisioning.modules.base import PermanentModuleError, TransientModuleError
from provisioning.registrars.base import (
    Contact,
    DomainStatus,
    DomainUnavailableError,
    DsRecord,
    ErrorKind,
    RegistryError,
    TransferStatus,
    normalize_domain,
    normalize_nameservers,
)
from provisioning.registrars.simulated import SimulatedRegistrar
from tests.provisioning.conftest import simulated_connection

NS = ["ns1.host.example", "ns2.host.example"]


@pytest.fixture
def registrar(redis_namespace: str) -> Iterator[SimulatedRegistrar]:
    registrar = SimulatedRegistrar(
        simulated_connection(
            redis_namespace, taken_domains=["taken-elsewhere.com"], transfer_delay_s=3600
        )
    )
    yield registrar
    registrar.close()


def test_normalize_domain() -> None:
    assert normalize_domain(" Example.COM. ") == "example.com"
    assert normalize_domain("bücher.de") == "xn--bcher-kva.de"
    assert normalize_domain("пример.рф") == "xn--e1afmkfd.xn--p1ai"
    for bad in ("nodot", "-bad.com", "a..b.com", "x" * 64 + ".com", ""):
        with pytest.raises(PermanentModuleError):
            normalize_domain(bad)


def test_normalize_nameservers() -> None:
    assert normalize_nameservers(["NS1.Host.example.", "ns2.host.example", "ns1.host.example"]) == (
        "ns1.host.example",
        "ns2.host.example",
    )
    with pytest.raises(PermanentModuleError, match="between 2 and 13"):
        normalize_nameservers(["ns1.host.example"])
    with pytest.raises(PermanentModuleError, match="not a valid"):
        normalize_nameservers(["ns1.host.example", "bad host"])


def test_availability(registrar: SimulatedRegistrar) -> None:
    assert registrar.check_availability("fresh-name.com").available is True
    taken = registrar.check_availability("taken-elsewhere.com")
    assert not taken.available and taken.reason == "registered elsewhere"
    registrar.register("fresh-name.com", 1, NS, "c-1")
    assert registrar.check_availability("FRESH-name.com").available is False


def test_register(registrar: SimulatedRegistrar) -> None:
    info = registrar.register("my-shop.com", 2, NS, "c-1")
    assert info.domain == "my-shop.com" and info.status == "active" and info.locked
    assert info.nameservers == tuple(NS)
    assert info.expires_on == date.today() + timedelta(days=730)
    assert registrar.get_domain("my-shop.com") == info
    assert registrar.get_domain("other.com") is None


def test_register_is_idempotent_for_the_same_contact(registrar: SimulatedRegistrar) -> None:
    first = registrar.register("my-shop.com", 1, NS, "c-1")
    assert registrar.register("my-shop.com", 1, NS, "c-1") == first
    with pytest.raises(DomainUnavailableError):
        registrar.register("my-shop.com", 1, NS, "c-2")
    with pytest.raises(DomainUnavailableError):
        registrar.register("taken-elsewhere.com", 1, NS, "c-1")


def test_racing_registrations(registrar: SimulatedRegistrar, redis_namespace: str) -> None:
    outcomes: list[str] = []
    barrier = threading.Barrier(6)

    def register(contact: str) -> None:
        with_registrar = SimulatedRegistrar(simulated_connection(redis_namespace))
        barrier.wait()
        try:
            with_registrar.register("race.com", 1, NS, contact)
            outcomes.append(contact)
        except DomainUnavailableError:
            outcomes.append("lost")
        finally:
            with_registrar.close()

    threads = [threading.Thread(target=register, args=(f"c-{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("lost") == 5


def test_register_validation(registrar: SimulatedRegistrar) -> None:
    with pytest.raises(PermanentModuleError, match="1 to 10 years"):
        registrar.register("a-b.com", 11, NS, "c-1")
    with pytest.raises(PermanentModuleError, match="nameservers"):
        registrar.register("a-b.com", 1, ["ns1.x.example"], "c-1")
    assert registrar.register("default-ns.com", 1, [], "c-1").nameservers


def test_renew(registrar: SimulatedRegistrar) -> None:
    registrar.register("my-shop.com", 1, NS, "c-1")
    current = date.today() + timedelta(days=365)
    renewed = registrar.renew("my-shop.com", 2, current_expiry=current)
    assert renewed.expires_on == date.today() + timedelta(days=365 * 3)
    # Replayed with the expiry it already extended: refused, not renewed twice.
    with pytest.raises(RegistryError, match="does not expire on") as replay:
        registrar.renew("my-shop.com", 2, current_expiry=current)
    assert replay.value.kind == ErrorKind.POLICY and replay.value.code == 2306
    with pytest.raises(PermanentModuleError, match="more than 10 years"):
        registrar.renew("my-shop.com", 9, current_expiry=renewed.expires_on)
    with pytest.raises(RegistryError, match="do not hold") as missing:
        registrar.renew("not-ours.com", 1, current_expiry=current)
    assert missing.value.kind == ErrorKind.NOT_FOUND


def test_transfer(registrar: SimulatedRegistrar, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    code = "Tr4nsfer-Code-991"
    info = registrar.transfer_request("moving.net", code, contact_ref="c-9")
    assert info.status == TransferStatus.PENDING and info.pending
    assert registrar.transfer_request("moving.net", code, contact_ref="c-9") == info
    assert registrar.info("moving.net").status == DomainStatus.PENDING_TRANSFER
    with pytest.raises(RegistryError, match="auth code") as caught:
        registrar.transfer_request("other.net", "123")
    assert caught.value.kind == ErrorKind.AUTHORIZATION and caught.value.code == 2202
    assert "123" not in str(caught.value).replace("other.net", "")
    assert code not in caplog.text and code not in repr(info)
    cancelled = registrar.transfer_cancel("moving.net")
    assert cancelled.status == TransferStatus.CLIENT_CANCELLED
    assert registrar.info("moving.net") is None


def test_transfer_approved_by_the_registry(redis_namespace: str) -> None:
    with SimulatedRegistrar(simulated_connection(redis_namespace)) as registrar:
        registrar.transfer_request("moving.net", "Tr4nsfer-Code-991", years=1, contact_ref="c")
        done = registrar.transfer_query("moving.net")
        assert done.completed and done.status == TransferStatus.SERVER_APPROVED
        info = registrar.info("moving.net")
        assert info.status == DomainStatus.ACTIVE
        notices = registrar.poll_drain()
        assert [m.transfer_status for m in notices] == [TransferStatus.SERVER_APPROVED]
        assert registrar.poll() is None


def test_transfer_away(registrar: SimulatedRegistrar) -> None:
    registrar.register("leaving.com", 1, NS, "c-1")
    registrar.simulate_transfer_away("leaving.com")
    with pytest.raises(RegistryError) as not_ours:
        registrar.transfer_cancel("leaving.com")
    assert not_ours.value.kind == ErrorKind.AUTHORIZATION
    assert registrar.transfer_reject("leaving.com").status == TransferStatus.CLIENT_REJECTED
    registrar.simulate_transfer_away("leaving.com")
    assert registrar.transfer_approve("leaving.com").completed


def test_delete_and_restore(registrar: SimulatedRegistrar) -> None:
    registrar.register("gone-soon.com", 1, NS, "c-1")
    with pytest.raises(RegistryError) as locked:
        registrar.delete("gone-soon.com")
    assert locked.value.code == 2304
    registrar.set_lock("gone-soon.com", False)
    registrar.delete("gone-soon.com")
    assert registrar.info("gone-soon.com").status == DomainStatus.REDEMPTION
    assert registrar.restore("gone-soon.com").status == DomainStatus.ACTIVE
    with pytest.raises(RegistryError, match="not in redemption"):
        registrar.restore("gone-soon.com")


def test_updates_hosts_contacts_auth_code(registrar: SimulatedRegistrar) -> None:
    registrar.register("my-shop.com", 1, NS, "c-1")
    ds = DsRecord(12345, 13, 2, "49FD46E6C4B45C55D4AC" * 3 + "49FD")
    assert registrar.set_dnssec("my-shop.com", [ds]).ds_records == (ds,)
    assert registrar.set_dnssec("my-shop.com", []).ds_records == ()
    assert registrar.set_registrant("my-shop.com", "c-2").registrant == "c-2"
    held = registrar.set_statuses("my-shop.com", add=("clientHold",))
    assert "clientHold" in held.statuses
    with pytest.raises(RegistryError) as bad_status:
        registrar.set_statuses("my-shop.com", add=("serverHold",))
    assert bad_status.value.kind == ErrorKind.INVALID
    host = registrar.host_create("ns1.my-shop.com", ["192.0.2.1", "2001:db8::1"])
    assert registrar.host_info("ns1.my-shop.com") == host
    with pytest.raises(RegistryError) as foreign:
        registrar.host_create("ns1.not-ours.com", ["192.0.2.1"])
    assert foreign.value.code == 2305
    first = registrar.auth_code("my-shop.com")
    second = registrar.auth_code_reset("my-shop.com")
    assert first != second and registrar.auth_code("my-shop.com") == second
    person = Contact(
        name="Maria Rossi",
        email="maria@example.org",
        phone="+39.0612345678",
        street=("Via Roma 1",),
        city="Roma",
        postcode="00100",
        country_code="IT",
    )
    handle = registrar.contact_create(person)
    assert handle.startswith("SIM-") and "Maria" not in repr(person)
    registrar.contact_update(handle, person)
    with pytest.raises(RegistryError) as unknown:
        registrar.contact_update("SIM-NOPE", person)
    assert unknown.value.kind == ErrorKind.NOT_FOUND
    assert registrar.test_connection().startswith("simulated registrar")


def test_nameservers_and_lock(registrar: SimulatedRegistrar) -> None:
    registrar.register("my-shop.com", 1, NS, "c-1")
    changed = registrar.set_nameservers("my-shop.com", ["a.dns.example", "b.dns.example"])
    assert changed.nameservers == ("a.dns.example", "b.dns.example")
    assert registrar.set_lock("my-shop.com", False).locked is False
    assert registrar.get_domain("my-shop.com").locked is False


def test_failures(redis_namespace: str) -> None:
    flaky = SimulatedRegistrar(simulated_connection(redis_namespace, failure_rate=1))
    with pytest.raises(TransientModuleError):
        flaky.check_availability("x-y.com")
    after = SimulatedRegistrar(
        simulated_connection(redis_namespace, failure_rate=1, failure_point="after")
    )
    with pytest.raises(TransientModuleError):
        after.register("lost-reply.com", 1, NS, "c-1")
    steady = SimulatedRegistrar(simulated_connection(redis_namespace))
    assert steady.register("lost-reply.com", 1, NS, "c-1").status == "active"
    down = SimulatedRegistrar(
        simulated_connection(redis_namespace, redis_url="redis://127.0.0.1:1/0")
    )
    with pytest.raises(TransientModuleError, match="state store"):
        down.check_availability("x-y.com")
    for registrar in (flaky, after, steady, down):
        registrar.close()
