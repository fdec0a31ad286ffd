"""Which registrar serves a TLD, and the provider's registrar accounts.

``registrar_for_tld`` is the one way into a registrar module for the rest of the code:
the account that lists the TLD, else the provider's default account, else the EPP
registry of the settings (``EPP_HOST``: the local EPP registry under ``make run``), else
(outside production, with no account configured at all) the simulated registrar.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from provisioning.models import RegistrarAccount, RegistrarTld
from provisioning.modules.base import ServerConnection
from provisioning.registrars.base import (
    Registrar,
    RegistryError,
    UnsupportedTldError,
    get_registrar_class,
)
from provisioning.registrars.epp import EppRegistrar
from provisioning.registrars.simulated import SimulatedRegistrar

SIMULATED_HOSTNAME = "default"


def _clean_tld(tld: str) -> str:
    text = (tld or "").strip().strip(".").lower()
    try:
        text = text.encode("idna").decode("ascii")
    except UnicodeError:
        raise UnsupportedTldError(tld) from None
    if not text or "." in text:
        raise UnsupportedTldError(tld)
    return text


def registrar_account_for_tld(tld: str) -> RegistrarAccount | None:
    """The active account that serves ``tld``: the one listing it, else the default."""
    name = _clean_tld(tld)
    row = RegistrarTld.objects.select_related("account").filter(tld=name).first()
    if row is not None:
        return row.account if row.account.is_active else None
    return RegistrarAccount.objects.filter(is_default=True, is_active=True).first()


def registrar_for_account(account: RegistrarAccount) -> Registrar:
    return get_registrar_class(account.module)(account.connection())


def simulated_registrar() -> SimulatedRegistrar:
    return SimulatedRegistrar(
        ServerConnection(
            hostname=SIMULATED_HOSTNAME, port=0, extra={"redis_url": settings.REDIS_URL}
        )
    )


def settings_epp_registrar() -> EppRegistrar:
    return EppRegistrar(
        ServerConnection(
            hostname=settings.EPP_HOST,
            port=settings.EPP_PORT,
            username=settings.EPP_USERNAME,
            secret=settings.EPP_PASSWORD,
            extra={"cafile": settings.EPP_CAFILE} if settings.EPP_CAFILE else {},
        )
    )


def registrar_for_tld(tld: str) -> Registrar:
    """The registrar module for a TLD (``"com"``, ``".it"``, ``"рф"``), connected; the
    caller closes it (it is a context manager). Raises ``UnsupportedTldError``."""
    account = registrar_account_for_tld(tld)
    if account is not None:
        return registrar_for_account(account)
    if settings.EPP_HOST:
        return settings_epp_registrar()
    if settings.REGISTRAR_SIMULATED_FALLBACK and not RegistrarAccount.objects.exists():
        return simulated_registrar()
    raise UnsupportedTldError(_clean_tld(tld))


def registrar_tlds() -> list[str]:
    """The TLDs some account lists (the default account serves any other too)."""
    return list(RegistrarTld.objects.filter(account__is_active=True).values_list("tld", flat=True))


@transaction.atomic
def registrar_account_tlds_set(*, account: RegistrarAccount, tlds: list[str]) -> list[str]:
    """Makes ``account`` serve exactly ``tlds``; a TLD another account serves is refused."""
    wanted = sorted({_clean_tld(t) for t in tlds})
    taken = (
        RegistrarTld.objects.select_for_update()
        .filter(tld__in=wanted)
        .exclude(account=account)
        .values_list("tld", flat=True)
    )
    if taken:
        raise RegistryError(
            f"another registrar account already serves: .{', .'.join(sorted(taken))}",
            code=2302,
            kind="exists",
        )
    RegistrarTld.objects.filter(account=account).exclude(tld__in=wanted).delete()
    have = set(RegistrarTld.objects.filter(account=account).values_list("tld", flat=True))
    RegistrarTld.objects.bulk_create(
        [RegistrarTld(account=account, tld=t) for t in wanted if t not in have]
    )
    return wanted


def registrar_account_test(*, account: RegistrarAccount) -> str:
    """Logs in with the account's credentials; the registry's one-line description, or
    a ``ModuleError`` whose message holds no secret."""
    with registrar_for_account(account) as registrar:
        return registrar.test_connection()
