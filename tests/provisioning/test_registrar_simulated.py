"""The simulated registrar and the registrar helpers."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import date, timedelta

import pytest

from provisioning.modules.base import PermanentModuleError, TransientModuleError
from provisioning.registrars.base import (
    DomainUnavailableError,
    normalize_domain,
    normalize_nameservers,
)
from provisioning.registrars.simulated import SimulatedRegistrar
from tests.provisioning.conftest import simulated_connection

NS = ["ns1.host.example", "ns2.host.example"]


@pytest.fixture
def registrar(redis_namespace: str) -> Iterator[SimulatedRegistrar]:
    registrar = SimulatedRegistrar(
        simulated_connection(redis_namespace, taken_domains=["taken-elsewhere.com"])
    )
    yield registrar
    registrar.close()


def test_normalize_domain() -> None:
    assert normalize_domain(" Example.COM. ") == "example.com"
    assert normalize_domain("bücher.de") == "xn--bcher-kva.de"
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
    renewed = registrar.renew("my-shop.com", 2)
    assert renewed.expires_on == date.today() + timedelta(days=365 * 3)
    with pytest.raises(PermanentModuleError, match="more than 10 years"):
        registrar.renew("my-shop.com", 9)
    with pytest.raises(PermanentModuleError, match="do not hold"):
        registrar.renew("not-ours.com", 1)


def test_transfer(registrar: SimulatedRegistrar, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    code = "Tr4nsfer-Code-991"
    info = registrar.transfer("moving.net", code, "c-9")
    assert info.status == "pending_transfer"
    assert registrar.transfer("moving.net", code, "c-9") == info
    with pytest.raises(PermanentModuleError, match="auth code") as caught:
        registrar.transfer("other.net", "123")
    assert "123" not in str(caught.value).replace("other.net", "")
    assert code not in caplog.text and code not in repr(info)


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
