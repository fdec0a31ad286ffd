"""The module contract's shared pieces: data classes, errors, registry, names, passwords."""

from __future__ import annotations

import string

import pytest

from provisioning.modules.base import (
    MODULE_CHOICES,
    AccountExistsError,
    AccountResult,
    AccountSpec,
    ModuleError,
    PermanentModuleError,
    ServerConnection,
    ServerModule,
    TransientModuleError,
    Usage,
    generate_password,
    generate_username,
    get_module_class,
)
from provisioning.registrars.base import REGISTRAR_CHOICES, Registrar, get_registrar_class


def test_connection_repr_masks_the_secret() -> None:
    connection = ServerConnection(
        "whm.example.net",
        2087,
        username="root",
        secret="tok-SECRET-123",
        extra={"redis_url": "redis://:hunter2@redis:6379/0", "api_key": "k-123", "node": "pve"},
    )
    text = repr(connection)
    assert "tok-SECRET-123" not in text
    assert "hunter2" not in text and "k-123" not in text
    assert "whm.example.net" in text and "pve" in text
    assert str(connection) == text


def test_account_spec_repr_masks_the_password() -> None:
    spec = AccountSpec("abc12345", "Pa55-word-XYZ", "example.com", "starter", {"ram_mb": 512})
    assert "Pa55-word-XYZ" not in repr(spec)
    assert "abc12345" in repr(spec) and "ram_mb" in repr(spec)


def test_base_url_handles_tls_and_ipv6() -> None:
    assert ServerConnection("h.example", 2087).base_url == "https://h.example:2087"
    assert ServerConnection("::1", 8006, use_tls=False).base_url == "http://[::1]:8006"


def test_dataclasses_are_frozen() -> None:
    result = AccountResult("1", "abc")
    with pytest.raises(AttributeError):
        result.remote_id = "2"  # type: ignore[misc]
    assert Usage(1.0, 2.0).extra == {}


def test_error_hierarchy_and_message() -> None:
    assert issubclass(TransientModuleError, ModuleError)
    assert issubclass(AccountExistsError, PermanentModuleError)
    error = PermanentModuleError("cpanel: createacct failed", "x" * 2000)
    assert len(error.panel_message) == 500
    assert str(error).startswith("cpanel: createacct failed (panel said: xxx")
    assert str(TransientModuleError("down")) == "down"


def test_registry_knows_every_module() -> None:
    names = [name for name, _ in MODULE_CHOICES]
    assert names == ["simulated", "cpanel", "plesk", "vmmanager", "proxmox"]
    for name in names:
        module_class = get_module_class(name)
        assert issubclass(module_class, ServerModule)
        assert module_class.name == name
    with pytest.raises(ValueError, match="Unknown server module"):
        get_module_class("directadmin")


def test_registrar_registry() -> None:
    assert [name for name, _ in REGISTRAR_CHOICES] == ["simulated", "epp", "centralnic"]
    for name, _ in REGISTRAR_CHOICES:
        registrar_class = get_registrar_class(name)
        assert issubclass(registrar_class, Registrar) and registrar_class.name == name
    with pytest.raises(ValueError):
        get_registrar_class("nope")


def test_generated_usernames_are_panel_safe_and_varied() -> None:
    names = {generate_username() for _ in range(500)}
    assert len(names) == 500
    for name in names:
        assert len(name) == 8
        assert name[0] in string.ascii_lowercase
        assert set(name) <= set(string.ascii_lowercase + string.digits)
        assert not name.startswith("test")


def test_seeded_usernames_are_stable_and_distinct() -> None:
    assert generate_username("service-42") == generate_username("service-42")
    assert generate_username("service-42") != generate_username("service-43")
    assert generate_username("service-42")[0].isalpha()
    assert len(generate_username("x", length=12)) == 12
    with pytest.raises(ValueError):
        generate_username(length=17)


def test_generated_passwords_are_strong() -> None:
    passwords = {generate_password() for _ in range(200)}
    assert len(passwords) == 200
    for password in passwords:
        assert len(password) == 20
        assert any(c.islower() for c in password) and any(c.isupper() for c in password)
        assert any(c.isdigit() for c in password)
        assert not set(password) & set("'\"\\ `$")
    with pytest.raises(ValueError):
        generate_password(8)
