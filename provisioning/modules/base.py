"""The contract every control-panel module fulfils, and the helpers they share.

A module drives one server (a WHM, a Plesk, a Proxmox cluster...) through its
API. It knows nothing about Django: it takes a ``ServerConnection`` and plain
dataclasses, and answers with dataclasses or one of three errors, so the job
runner only has to decide "retry later" (``TransientModuleError``) or "give up
and show the panel's message" (``PermanentModuleError``).

Secrets (the server's API token or password, the account's password, login
links) never reach a log line, an exception message or ``details``: the
dataclasses mask them in ``repr`` and ``ModuleError`` scrubs any secret the
module has seen out of the panel's own messages.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import secrets
import string
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

logger = logging.getLogger(__name__)

MASK = "***"
# Panel messages are stored on the job for staff to read; a whole HTML error page is not useful.
PANEL_MESSAGE_LIMIT = 500


# --- data -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerConnection:
    """How to reach one server's API. ``secret`` is an API token or a password."""

    hostname: str
    port: int
    use_tls: bool = True
    username: str = ""
    secret: str = ""
    verify_tls: bool = True
    timeout_s: float = 30.0
    extra: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"ServerConnection(hostname={self.hostname!r}, port={self.port!r}, "
            f"use_tls={self.use_tls!r}, username={self.username!r}, secret={MASK!r}, "
            f"verify_tls={self.verify_tls!r}, timeout_s={self.timeout_s!r}, "
            f"extra={_mask_mapping(self.extra)!r})"
        )

    @property
    def base_url(self) -> str:
        host = self.hostname
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"  # IPv6 literal
        scheme = "https" if self.use_tls else "http"
        return f"{scheme}://{host}:{self.port}"


@dataclass(frozen=True)
class AccountSpec:
    """What to create. ``package`` is the panel's own package/plan/template id."""

    username: str
    password: str
    domain: str
    package: str
    # ram_mb, disk_gb, cpu, ips, contact_email_alias, os...: module-specific knobs.
    options: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"AccountSpec(username={self.username!r}, password={MASK!r}, "
            f"domain={self.domain!r}, package={self.package!r}, "
            f"options={_mask_mapping(self.options)!r})"
        )


def options_merge(base: dict[str, Any], *extras: dict[str, Any]) -> dict[str, Any]:
    """A plan's module options with the settings of the options bought on top: numbers
    add up (``ram_mb`` 2048 + an option's 2048), lists join (``addons``), anything else
    is replaced by the option's value (a panel package, a licence name)."""
    merged = dict(base or {})
    for extra in extras:
        for key, value in (extra or {}).items():
            current = merged.get(key)
            if isinstance(value, bool) or isinstance(current, bool):
                merged[key] = value
            elif isinstance(value, int | float) and isinstance(current, int | float):
                merged[key] = current + value
            elif isinstance(value, list):
                merged[key] = sorted({*(current if isinstance(current, list) else []), *value})
            else:
                merged[key] = value
    return merged


# The option keys a module's read call reports and reconciliation compares.
RESOURCE_KEYS = ("cpu", "ram_mb", "disk_gb", "ips", "backups", "addons")


@dataclass(frozen=True)
class AccountState:
    """What the panel reports about an account: ``status`` is ``active``, ``suspended``
    or ``missing``; ``options`` holds the resources it can read back (RESOURCE_KEYS)."""

    status: str
    package: str = ""
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AccountResult:
    """An account as the panel knows it. ``details`` never holds a secret."""

    remote_id: str
    username: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PanelLogin:
    """How a client signs in to a panel that cannot log anyone in by link. Shown to the
    client once, never stored; ``password`` is masked in ``repr``."""

    url: str
    login: str
    password: str

    def __repr__(self) -> str:
        return f"PanelLogin(url={self.url!r}, login={self.login!r}, password={MASK!r})"


@dataclass(frozen=True)
class Usage:
    disk_mb: float
    bandwidth_mb: float
    extra: dict[str, Any] = field(default_factory=dict)


def _mask_mapping(values: dict[str, Any]) -> dict[str, Any]:
    return {
        key: (MASK if _looks_secret(key) or _has_credentials(value) else value)
        for key, value in (values or {}).items()
    }


def _has_credentials(value: Any) -> bool:
    # e.g. redis://:password@host/0
    return isinstance(value, str) and "://" in value and "@" in value


def _looks_secret(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in ("password", "secret", "token", "key", "passwd"))


# --- errors -----------------------------------------------------------------------------------


class ModuleError(Exception):
    """A panel call failed. ``panel_message`` is what the panel said, for staff to read."""

    def __init__(self, message: str, panel_message: str = "") -> None:
        self.message = message
        self.panel_message = (panel_message or "")[:PANEL_MESSAGE_LIMIT]
        super().__init__(message)

    def __str__(self) -> str:
        if self.panel_message:
            return f"{self.message} (panel said: {self.panel_message})"
        return self.message


class TransientModuleError(ModuleError):
    """Worth retrying with backoff: HTTP 5xx, timeouts, connection refused."""


class PermanentModuleError(ModuleError):
    """Retrying will not help: bad credentials, validation errors, a reply we cannot read."""


class AccountExistsError(PermanentModuleError):
    """The panel already holds this username or domain, and not as the account we asked for."""


class LoginByLinkOnly(PermanentModuleError):
    """The panel logs the client in by its single sign-on link and has no password to give."""


# --- the module contract ----------------------------------------------------------------------


class ServerModule(ABC):
    """One panel's API behind a common set of actions.

    ``create_account`` is idempotent by username: it looks for the account
    first, so a job retried after a lost reply or a killed worker picks up the
    account it already made instead of making a second one.
    """

    name: str = ""
    label: str = ""

    def __init__(self, connection: ServerConnection) -> None:
        self.connection = connection
        self._secrets: set[str] = {connection.secret} if connection.secret else set()
        self._client: httpx.Client | None = None

    # Subclasses implement these.

    @abstractmethod
    def _create_account(self, spec: AccountSpec) -> AccountResult:
        """Creates the account; raises AccountExistsError when the panel says it exists."""

    @abstractmethod
    def find_account(self, username: str) -> AccountResult | None: ...

    @abstractmethod
    def suspend(self, remote_id: str, reason: str = "") -> None: ...

    @abstractmethod
    def unsuspend(self, remote_id: str) -> None: ...

    @abstractmethod
    def terminate(self, remote_id: str) -> None: ...

    @abstractmethod
    def change_package(self, remote_id: str, package: str) -> None: ...

    @abstractmethod
    def change_options(self, remote_id: str, package: str, options: dict[str, Any]) -> None:
        """Applies the account's resources and add-ons: the full set (the plan's options
        with the bought ones merged in, see ``options_merge``), not a difference."""

    @abstractmethod
    def read_account(self, remote_id: str) -> AccountState:
        """What the panel holds for the account now, for reconciliation."""

    @abstractmethod
    def sso_url(self, remote_id: str, client_ip: str = "") -> str:
        """A one-time login link. ``client_ip`` is the address of the browser that will
        follow it, for panels that bind the session to it (Plesk); empty when unknown."""

    @abstractmethod
    def usage(self, remote_id: str) -> Usage: ...

    @abstractmethod
    def test_connection(self) -> str:
        """Checks credentials and returns a one-line description of the server."""

    def panel_login_reset(self, remote_id: str) -> PanelLogin:
        """Gives the client's own panel user a new password, for panels with no login by
        link (Proxmox). The others log the client in with ``sso_url``."""
        raise LoginByLinkOnly(f"{self.name}: the control panel opens by its login link")

    # Shared behaviour.

    def create_account(self, spec: AccountSpec) -> AccountResult:
        self._remember_secret(spec.password)
        existing = self.find_account(spec.username)
        if existing is None:
            try:
                return self._create_account(spec)
            except AccountExistsError:
                # Lost a race with another attempt of the same job, or the panel finished a
                # create whose reply never reached us: take the account if it is ours.
                existing = self.find_account(spec.username)
                if existing is None:
                    raise
        self._check_same_account(existing, spec)
        logger.info("%s: account %s already exists, reusing it", self.name, spec.username)
        return AccountResult(
            existing.remote_id, existing.username, {**existing.details, "reused": True}
        )

    def _check_same_account(self, existing: AccountResult, spec: AccountSpec) -> None:
        domain = existing.details.get("domain")
        if spec.domain and domain and domain.lower() != spec.domain.lower():
            raise AccountExistsError(
                f"{self.name}: username {spec.username} is taken by an account for another domain"
            )

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> ServerModule:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # HTTP plumbing shared by the panel modules.

    def _remember_secret(self, value: str | None) -> None:
        if value:
            self._secrets.add(value)

    def _scrub(self, text: str) -> str:
        for value in self._secrets:
            if value and len(value) >= 4:
                text = text.replace(value, MASK)
        return text

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(
                base_url=self.connection.base_url,
                verify=self.connection.verify_tls,
                timeout=self.connection.timeout_s,
                headers=self._auth_headers(),
                follow_redirects=False,
            )
        return self._client

    def _auth_headers(self) -> dict[str, str]:
        return {}

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One HTTP call; network trouble becomes TransientModuleError."""
        try:
            return self._http().request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise TransientModuleError(
                f"{self.name}: {self.connection.hostname} did not answer within "
                f"{self.connection.timeout_s:g} s"
            ) from exc
        except httpx.TransportError as exc:
            raise TransientModuleError(
                f"{self.name}: could not talk to {self.connection.hostname} ({type(exc).__name__})"
            ) from exc

    def _check_status(self, response: httpx.Response, panel_message: str = "") -> None:
        """Maps HTTP errors: 5xx/429 transient, 401/403 bad credentials, other 4xx permanent."""
        status = response.status_code
        if status < 400:
            return
        message = self._scrub(panel_message or _short_text(response))
        where = f"{self.name}: {response.request.method} {response.request.url.path}"
        if status >= 500 or status == 429:
            raise TransientModuleError(f"{where} failed with HTTP {status}", message)
        if status in (401, 403):
            raise PermanentModuleError(
                f"{self.name}: {self.connection.hostname} refused the credentials (HTTP {status})",
                message,
            )
        raise PermanentModuleError(f"{where} was rejected with HTTP {status}", message)

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise PermanentModuleError(
                f"{self.name}: {response.request.url.path} returned a reply that is not JSON",
                self._scrub(_short_text(response)),
            ) from exc

    def _malformed(self, what: str, body: Any = None) -> PermanentModuleError:
        return PermanentModuleError(
            f"{self.name}: unexpected reply to {what}", self._scrub(str(body)[:200])
        )


def _short_text(response: httpx.Response) -> str:
    try:
        return " ".join(response.text.split())[:PANEL_MESSAGE_LIMIT]
    except Exception:  # undecodable bytes: the status line says enough
        return ""


# --- registry ---------------------------------------------------------------------------------

_MODULES: dict[str, tuple[str, str]] = {
    "simulated": ("provisioning.modules.simulated.SimulatedModule", "Simulated panel (demo)"),
    "cpanel": ("provisioning.modules.cpanel.CpanelModule", "cPanel / WHM"),
    "plesk": ("provisioning.modules.plesk.PleskModule", "Plesk"),
    "vmmanager": ("provisioning.modules.vmmanager.VmmanagerModule", "VMmanager 6"),
    "proxmox": ("provisioning.modules.proxmox.ProxmoxModule", "Proxmox VE"),
}

MODULE_CHOICES: list[tuple[str, str]] = [(name, label) for name, (_, label) in _MODULES.items()]


def get_module_class(name: str) -> type[ServerModule]:
    try:
        dotted, _ = _MODULES[name]
    except KeyError:
        raise ValueError(f"Unknown server module {name!r}") from None
    module_path, class_name = dotted.rsplit(".", 1)
    return getattr(importlib.import_module(module_path), class_name)


# --- names and passwords ----------------------------------------------------------------------

_LETTERS = string.ascii_lowercase
_ALNUM = string.ascii_lowercase + string.digits
# cPanel refuses usernames that start with "test"; a few others are reserved system names.
_FORBIDDEN_PREFIXES = ("test",)
_RESERVED = {"root", "admin", "nobody", "mysql", "daemon", "backup", "virtfs", "cpanel"}


def generate_username(prefix_seed: str | None = None, length: int = 8) -> str:
    """A panel-safe username: ``length`` lowercase letters and digits, starting with a letter.

    It never comes from the client's name. Given ``prefix_seed`` (a stable,
    non-personal value such as the provisioned service's id) the same seed always
    gives the same name, so a retried create looks for the account it may already
    have made; without a seed the name is random.
    """
    if not 3 <= length <= 16:
        raise ValueError("length must be between 3 and 16 (WHM allows at most 16)")
    if prefix_seed:
        digest = hashlib.sha256(f"tessera-username:{prefix_seed}".encode()).digest()
        chars = [_LETTERS[digest[0] % len(_LETTERS)]]
        chars += [_ALNUM[byte % len(_ALNUM)] for byte in digest[1:length]]
    else:
        chars = [secrets.choice(_LETTERS)] + [secrets.choice(_ALNUM) for _ in range(length - 1)]
    name = "".join(chars)
    if name.startswith(_FORBIDDEN_PREFIXES) or name in _RESERVED:
        name = "u" + name[1:]
    return name


_PASSWORD_SYMBOLS = "-_.!@#%^*+="


def generate_password(length: int = 20) -> str:
    """A strong random password with every character class, free of quotes and spaces."""
    if length < 12:
        raise ValueError("passwords shorter than 12 characters are not generated")
    alphabet = string.ascii_letters + string.digits + _PASSWORD_SYMBOLS
    classes: Iterable[str] = (
        string.ascii_lowercase,
        string.ascii_uppercase,
        string.digits,
        _PASSWORD_SYMBOLS,
    )
    while True:
        password = "".join(secrets.choice(alphabet) for _ in range(length))
        if all(any(char in group for char in password) for group in classes):
            return password
