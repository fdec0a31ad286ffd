"""What the portals do with a tenant's resold domains, through the upstream interface:
the registry's record of a client's domain read and changed now (nameservers, lock,
glue records, DNSSEC, the registrant, a new auth code shown once and audited), the
availability of names at the provider's registrars, and a restore from redemption."""

from __future__ import annotations

from django.db.models import CharField, F, OuterRef, Subquery
from django.db.models.functions import Cast

from audit.services import audit_record
from billing.models import Service
from resale.domain_bridge import domain_state_apply, registrant_contact
from resale.domains import DomainSecrets
from resale.models import ResoldDomain, UpstreamCommand
from resale.outbox import upstream_command_queue
from resale.selectors import DOMAIN_PLAN_PREFIX, service_is_resold_domain, service_upstream_ref
from resale.services import ResaleError
from resale.upstreams import UpstreamRejected, UpstreamUnavailable, upstream_for_current_tenant

# --- the client area's domain page --------------------------------------------------------


class DomainRefused(Exception):
    """Why a domain operation did not happen, in the upstream's words; ``unreachable``
    when it could not be asked (try again later)."""

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.unreachable = unreachable


def domain_reference(service: Service) -> str:
    """The provider's reference of a tenant's domain service, or DomainRefused."""
    if not service_is_resold_domain(service):
        raise DomainRefused("not a resold domain")
    reference = service_upstream_ref(service=service)
    if not reference:
        raise DomainRefused("not registered yet")
    return reference


def domain_manage(*, service: Service, operation: str, params: dict | None = None) -> dict:
    """One operation on the registrar's record of the client's domain, now. A new auth
    code is returned to show once, is kept nowhere and its showing is audited."""
    reference = domain_reference(service)
    secrets = None
    if operation == "contact":
        secrets = DomainSecrets(contact=registrant_contact(service.client))
    try:
        result = upstream_for_current_tenant().domain_manage(
            service_ref=reference, operation=operation, params=params, secrets=secrets
        )
    except UpstreamUnavailable as exc:
        raise DomainRefused(str(exc), unreachable=True) from exc
    except (UpstreamRejected, ResaleError) as exc:
        raise DomainRefused(getattr(exc, "message", str(exc))) from exc
    if operation != "info":
        audit_record(
            action=f"domain.{operation}",
            object_type="service",
            object_id=service.public_id,
            # What changed, never the auth code itself.
            after={k: v for k, v in (params or {}).items()} if operation != "auth_code" else {},
        )
    if result.get("domain"):
        domain_state_apply(upstream_ref=reference, state=result)
    return result


def domains_available(*, names: list[str]) -> dict[str, dict]:
    """The provider's registrars' answer for names under TLDs it sells: name →
    ``{"available", "premium", "reason"}``; {} when the upstream cannot be asked."""
    try:
        answers = upstream_for_current_tenant().domain_check(domains=names)
    except (UpstreamUnavailable, UpstreamRejected):
        return {}
    return {answer["domain"]: answer for answer in answers}


def resold_domain_get(*, service: Service) -> ResoldDomain | None:
    return ResoldDomain.objects.filter(service_ref=str(service.public_id)).first()


def domain_restore_queue(*, service: Service) -> UpstreamCommand:
    """Staff bring a domain back from redemption: the provider restores it at the
    registry and debits its restore fee. Once per redemption (keyed by the expiry)."""
    record = resold_domain_get(service=service)
    if record is None or record.status != "redemption":
        raise DomainRefused("only a domain in its redemption period can be restored")
    reference = domain_reference(service)
    return upstream_command_queue(
        action=UpstreamCommand.Action.DOMAIN_RESTORE,
        service_ref=str(service.public_id),
        payload={"service_ref": reference},
        idempotency_key=f"domain_restore:{service.public_id}:{record.expires_on}",
    )


def resold_domains_list():
    """The tenant's domain services with the registry's status and expiry, soonest
    expiry first (the console's Registered domains)."""
    records = ResoldDomain.objects.filter(service_ref=Cast(OuterRef("public_id"), CharField()))
    return (
        Service.objects.filter(plan__upstream_plan_ref__startswith=DOMAIN_PLAN_PREFIX)
        .select_related("client", "plan")
        .annotate(
            registry_status=Subquery(records.values("status")[:1]),
            registry_expires_on=Subquery(records.values("expires_on")[:1]),
        )
        .order_by(F("registry_expires_on").asc(nulls_last=True), "domain_name")
    )


def domain_commands_failed():
    """Domain commands the provider refused or could not carry out, with its reasons."""
    return UpstreamCommand.objects.filter(
        action__in=[
            UpstreamCommand.Action.DOMAIN_REGISTER,
            UpstreamCommand.Action.DOMAIN_TRANSFER,
            UpstreamCommand.Action.DOMAIN_RENEW,
            UpstreamCommand.Action.DOMAIN_RESTORE,
        ],
        state=UpstreamCommand.State.FAILED,
    ).order_by("-created_at")
