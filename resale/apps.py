from django.apps import AppConfig


class ResaleConfig(AppConfig):
    name = "resale"
    verbose_name = "Resale"

    def ready(self) -> None:
        # Imported here, not at the top: these modules load models, which can only be
        # imported once every app is registered.
        from billing import events
        from billing.payments.gateways.config import connected_account_listeners
        from provisioning.services import job_finished_listeners

        # resale.domains adds the domain commands to the provider's command handlers.
        from resale import audit_log, billing_bridge, domains  # noqa: F401
        from resale.onboarding import on_tenant_imported
        from resale.platform_payments import connected_account_route_record
        from resale.provisioning_bridge import provisioning_job_report
        from tenants.backup import tenant_imported_listeners

        if on_tenant_imported not in tenant_imported_listeners:
            tenant_imported_listeners.append(on_tenant_imported)

        if billing_bridge.on_service_event not in events.service_event_tx_listeners:
            events.service_event_tx_listeners.append(billing_bridge.on_service_event)
            events.invoice_event_tx_listeners.append(billing_bridge.on_invoice_event)
        # Finished panel jobs of upstream services flow back to the reseller.
        if provisioning_job_report not in job_finished_listeners:
            job_finished_listeners.append(provisioning_job_report)
        # The platform's Stripe endpoint routes a connected account's events by its tenant.
        if connected_account_route_record not in connected_account_listeners:
            connected_account_listeners.append(connected_account_route_record)
        # The provider's balance and command rows in the audit log.
        audit_log.connect()
