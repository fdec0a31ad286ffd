"""Where resale meets provisioning, in both directions, so the seam reads in one place.
Resale sits above provisioning: it calls provisioning's services, and provisioning tells
it about finished jobs through ``provisioning.services.job_finished_listeners``.

- ``upstream_service_provision``: resale accepted a command for an upstream service;
  queue the matching panel job. Nothing here talks to a panel or reports back at
  once: the job does, when it finishes.
- ``upstream_service_sso_url``: a login link for the service's panel account.
- ``upstream_service_panel_login_reset``: a new password for the client's panel user,
  where the panel cannot log anyone in by link.
- ``provisioning_job_report``: a job finished; resale records it and tells the reseller.

Resale's ``change_plan`` is the panels' ``change_package``; its ``renew`` moves money
only and needs no panel.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django_tenants.utils import get_public_schema_name, schema_context

from provisioning.models import PlanMapping, ProvisionedService, ProvisioningJob
from provisioning.modules.base import (
    AccountState,
    LoginByLinkOnly,
    ModuleError,
    PanelLogin,
    options_merge,
)
from provisioning.selectors import (
    plan_mapping_for,
    provisioned_service_for_upstream,
    server_group_for_module,
)
from provisioning.services import (
    ProvisioningError,
    provisioned_service_action,
    provisioned_service_create,
    provisioned_service_panel_login_reset,
    provisioned_service_sso_url,
    provisioned_services_read,
    provisioning_job_enqueue,
)
from resale.models import UpstreamService
from resale.services import ResaleError, upstream_service_result

logger = logging.getLogger(__name__)

_PANEL_ACTION = {
    "suspend": ProvisioningJob.Action.SUSPEND,
    "unsuspend": ProvisioningJob.Action.UNSUSPEND,
    "terminate": ProvisioningJob.Action.TERMINATE,
    "change_plan": ProvisioningJob.Action.CHANGE_PACKAGE,
    "change_options": ProvisioningJob.Action.CHANGE_OPTIONS,
}


def _package_for(service: UpstreamService) -> tuple[object, str, dict]:
    """The server group, panel package and options that make the service: the plan's
    own options with the settings of the wholesale options bought on top."""
    bought = [chosen.get("settings") or {} for chosen in (service.options or {}).values()]
    mapping = plan_mapping_for(plan_code=service.plan.code)
    if mapping is not None:
        return mapping.group, mapping.package, options_merge(mapping.options or {}, *bought)
    group = server_group_for_module(module=service.plan.module)
    return group, service.plan.package, options_merge({}, *bought)


def upstream_services_expected(*, services: list[UpstreamService]) -> dict[int, tuple[str, dict]]:
    """The panel package and options each service should have on its server, by upstream
    service id (one query for the plans' mappings)."""
    with schema_context(get_public_schema_name()):
        mappings = {
            m.plan_code: m
            for m in PlanMapping.objects.filter(
                plan_code__in={s.plan.code for s in services}, is_active=True
            )
        }
    expected = {}
    for service in services:
        bought = [chosen.get("settings") or {} for chosen in (service.options or {}).values()]
        mapping = mappings.get(service.plan.code)
        if mapping is not None:
            expected[service.pk] = (mapping.package, options_merge(mapping.options, *bought))
        else:
            expected[service.pk] = (service.plan.package, options_merge({}, *bought))
    return expected


def upstream_service_provision(*, service: UpstreamService, action: str) -> ProvisioningJob | None:
    """Queues the panel job for a resale command; returns it (None when no panel work)."""
    with schema_context(get_public_schema_name()), transaction.atomic():
        provisioned = provisioned_service_for_upstream(upstream_service_id=service.pk)
        if action == "create":
            if provisioned is not None:
                return provisioned.jobs.filter(action=ProvisioningJob.Action.CREATE).first()
            group, package, options = _package_for(service)
            provisioned = provisioned_service_create(
                client_ref=service.client_ref,
                group=group,
                package=package,
                domain=service.domain,
                options=options,
                plan_code=service.plan.code,
                upstream_service_id=service.pk,
                # The same upstream service always gets the same username.
                username_seed=f"upstream-service:{service.public_id}",
                upstream_action="create",
            )
            return provisioned.jobs.get()
        panel_action = _PANEL_ACTION.get(action)
        if panel_action is None:
            return None
        if provisioned is None:
            # Never reached a panel (e.g. terminated while provisioning): nothing to do.
            provisioning_job_report_missing(service=service, action=action)
            return None
        if provisioned.status == ProvisionedService.Status.TERMINATED:
            return None
        if action in ("change_plan", "change_options"):
            _, package, options = _package_for(service)
            return provisioned_service_action(
                service=provisioned,
                action=panel_action,
                package=package,
                options=options,
                upstream_action=action,
            )
        reason = ""
        if action == "suspend" and service.suspend_reason:
            reason = str(service.get_suspend_reason_display())
        return provisioning_job_enqueue(
            service=provisioned,
            action=panel_action,
            params={"upstream_action": action, **({"reason": reason} if reason else {})},
        )


def upstream_services_server_state(
    *, upstream_service_ids: list[int]
) -> dict[int, AccountState | None]:
    """What the servers report for these upstream services, by upstream service id: the
    panel's read call, ``missing`` when no account was ever made, None when the panel
    could not be asked."""
    with schema_context(get_public_schema_name()):
        provisioned = list(
            ProvisionedService.objects.filter(upstream_service_id__in=upstream_service_ids)
        )
        states = provisioned_services_read(services=provisioned)
    found = {p.upstream_service_id: states.get(p.pk) for p in provisioned}
    return {
        pk: found[pk] if pk in found else AccountState(status="missing")
        for pk in upstream_service_ids
    }


def upstream_service_sso_url(*, service: UpstreamService, client_ip: str = "") -> str:
    with schema_context(get_public_schema_name()):
        provisioned = provisioned_service_for_upstream(upstream_service_id=service.pk)
        if provisioned is None:
            raise ResaleError("The service has no control panel account yet.", code="invalid_state")
        try:
            return provisioned_service_sso_url(service=provisioned, client_ip=client_ip)
        except ProvisioningError as exc:
            raise ResaleError(str(exc), code="invalid_state") from exc
        except ModuleError as exc:
            logger.warning("SSO link for %s failed: %s", provisioned.username, exc)
            raise ResaleError(
                "The control panel cannot be reached right now; try again shortly.",
                code="panel_unavailable",
            ) from exc


def upstream_service_panel_login_reset(*, service: UpstreamService) -> PanelLogin:

    with schema_context(get_public_schema_name()):
        provisioned = provisioned_service_for_upstream(upstream_service_id=service.pk)
        if provisioned is None:
            raise ResaleError("The service has no control panel account yet.", code="invalid_state")
        try:
            return provisioned_service_panel_login_reset(service=provisioned)
        except ProvisioningError as exc:
            raise ResaleError(str(exc), code="invalid_state") from exc
        except LoginByLinkOnly as exc:
            raise ResaleError(
                "This control panel opens by its login link; it has no password to give.",
                code="login_by_link",
            ) from exc
        except ModuleError as exc:
            logger.warning("Panel login for %s failed: %s", provisioned.username, exc)
            raise ResaleError(
                "The control panel cannot be reached right now; try again shortly.",
                code="panel_unavailable",
            ) from exc


def provisioning_job_report(*, job: ProvisioningJob) -> None:
    """Tells resale how a finished job went, for jobs made for an upstream service."""
    service = job.service
    upstream_action = job.params.get("upstream_action")
    if service.upstream_service_id is None or not upstream_action or not job.is_finished:
        return
    ok = job.state == ProvisioningJob.State.SUCCEEDED
    error = ""
    if not ok:
        error = job.error + (f" (panel said: {job.panel_message})" if job.panel_message else "")
    with schema_context(get_public_schema_name()):
        upstream_service_result(
            service_id=service.upstream_service_id,
            action=upstream_action,
            ok=ok,
            error=error,
            provisioned_service_id=service.pk,
        )


def provisioning_job_report_missing(*, service: UpstreamService, action: str) -> None:
    """An action for a service that never got a panel account: terminate is done by
    definition; anything else cannot be carried out, and resale is told so."""
    ok = action == "terminate"
    error = "" if ok else "The service has no control panel account."
    # In the caller's transaction: the outcome commits with the command it answers.
    upstream_service_result(service_id=service.pk, action=action, ok=ok, error=error)
