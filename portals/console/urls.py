"""Reseller console routes of a tenant host (namespace ``console``)."""

from django.urls import path

from portals.console.views import (
    api_keys,
    branding,
    catalogue,
    clients,
    dashboard,
    domains,
    invoices,
    orders,
    payments,
    reconciliation,
    service_options,
    services,
    settings,
    staff,
    upstream,
)

urlpatterns = [
    path("", dashboard.home, name="home"),
    path("clients/", clients.clients, name="clients"),
    path("clients/new/", clients.client_new, name="client-new"),
    path("clients/<uuid:public_id>/", clients.client_detail, name="client"),
    path("clients/<uuid:public_id>/export/", clients.client_export, name="client-export"),
    path("orders/", orders.orders, name="orders"),
    path("orders/<uuid:public_id>/", orders.order_detail, name="order"),
    path("services/", services.services, name="services"),
    path("services/<uuid:public_id>/", services.service_detail, name="service"),
    path(
        "services/<uuid:public_id>/options/",
        service_options.service_options,
        name="service-options",
    ),
    path("invoices/", invoices.invoices, name="invoices"),
    path("invoices/new/", invoices.invoice_new, name="invoice-new"),
    path("invoices/<uuid:public_id>/", invoices.invoice_detail, name="invoice"),
    path("invoices/<uuid:public_id>/pdf/", invoices.invoice_pdf, name="invoice-pdf"),
    path("invoices/<uuid:public_id>/einvoice/", invoices.invoice_einvoice, name="invoice-einvoice"),
    path(
        "invoices/<uuid:public_id>/fatturapa/", invoices.invoice_fatturapa, name="invoice-fatturapa"
    ),
    path(
        "credit-notes/<uuid:public_id>/einvoice/",
        invoices.credit_note_einvoice,
        name="credit-note-einvoice",
    ),
    path(
        "credit-notes/<uuid:public_id>/fatturapa/",
        invoices.credit_note_fatturapa,
        name="credit-note-fatturapa",
    ),
    path("catalogue/", catalogue.catalogue, name="catalogue"),
    path("catalogue/import/", catalogue.catalogue_import_view, name="catalogue-import"),
    path("branding/", branding.branding, name="branding"),
    path("domains/", domains.domains_view, name="domains"),
    path("staff/", staff.staff_view, name="staff"),
    path("upstream/", upstream.upstream, name="upstream"),
    path("reconciliation/", reconciliation.reconciliation, name="reconciliation"),
    path("settings/", settings.settings_view, name="settings"),
    path("api-keys/", api_keys.api_keys, name="api-keys"),
    path(
        "api-keys/<uuid:public_id>/revoke/",
        api_keys.api_key_revoke_view,
        name="api-key-revoke",
    ),
    path("webhooks/", api_keys.webhook_endpoints, name="webhooks"),
    path("webhooks/<uuid:public_id>/", api_keys.webhook_endpoint, name="webhook"),
    path(
        "webhooks/<uuid:public_id>/rotate-secret/",
        api_keys.webhook_secret_rotate,
        name="webhook-rotate",
    ),
    path(
        "webhooks/<uuid:public_id>/delete/",
        api_keys.webhook_endpoint_delete,
        name="webhook-delete",
    ),
    path(
        "webhooks/<uuid:public_id>/deliveries/<uuid:delivery_id>/replay/",
        api_keys.webhook_delivery_replay,
        name="webhook-replay",
    ),
    path("payments/", payments.payments, name="payments"),
    path("payments/return/", payments.payments_return, name="payments-return"),
    path("payments/refresh/", payments.payments_refresh, name="payments-refresh"),
    path("balance/", payments.balance_view, name="balance"),
    path("balance/return/", payments.balance_return, name="balance-return"),
]
