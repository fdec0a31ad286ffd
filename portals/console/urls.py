"""Reseller console routes of a tenant host (namespace ``console``)."""

from django.urls import path

from portals.console import views
from portals.console.views import api_keys as api_views
from portals.console.views import payments as payment_views
from portals.console.views import reconciliation as reconciliation_views
from portals.console.views import service_options as service_option_views

urlpatterns = [
    path("", views.home, name="home"),
    path("clients/", views.clients, name="clients"),
    path("clients/new/", views.client_new, name="client-new"),
    path("clients/<uuid:public_id>/", views.client_detail, name="client"),
    path("clients/<uuid:public_id>/export/", views.client_export, name="client-export"),
    path("orders/", views.orders, name="orders"),
    path("orders/<uuid:public_id>/", views.order_detail, name="order"),
    path("services/", views.services, name="services"),
    path("services/<uuid:public_id>/", views.service_detail, name="service"),
    path(
        "services/<uuid:public_id>/options/",
        service_option_views.service_options,
        name="service-options",
    ),
    path("invoices/", views.invoices, name="invoices"),
    path("invoices/new/", views.invoice_new, name="invoice-new"),
    path("invoices/<uuid:public_id>/", views.invoice_detail, name="invoice"),
    path("invoices/<uuid:public_id>/pdf/", views.invoice_pdf, name="invoice-pdf"),
    path("invoices/<uuid:public_id>/einvoice/", views.invoice_einvoice, name="invoice-einvoice"),
    path("invoices/<uuid:public_id>/fatturapa/", views.invoice_fatturapa, name="invoice-fatturapa"),
    path(
        "credit-notes/<uuid:public_id>/einvoice/",
        views.credit_note_einvoice,
        name="credit-note-einvoice",
    ),
    path(
        "credit-notes/<uuid:public_id>/fatturapa/",
        views.credit_note_fatturapa,
        name="credit-note-fatturapa",
    ),
    path("catalogue/", views.catalogue, name="catalogue"),
    path("catalogue/import/", views.catalogue_import_view, name="catalogue-import"),
    path("branding/", views.branding, name="branding"),
    path("domains/", views.domains_view, name="domains"),
    path("staff/", views.staff_view, name="staff"),
    path("upstream/", views.upstream, name="upstream"),
    path("reconciliation/", reconciliation_views.reconciliation, name="reconciliation"),
    path("settings/", views.settings_view, name="settings"),
    path("api-keys/", api_views.api_keys, name="api-keys"),
    path(
        "api-keys/<uuid:public_id>/revoke/",
        api_views.api_key_revoke_view,
        name="api-key-revoke",
    ),
    path("webhooks/", api_views.webhook_endpoints, name="webhooks"),
    path("webhooks/<uuid:public_id>/", api_views.webhook_endpoint, name="webhook"),
    path(
        "webhooks/<uuid:public_id>/rotate-secret/",
        api_views.webhook_secret_rotate,
        name="webhook-rotate",
    ),
    path(
        "webhooks/<uuid:public_id>/delete/",
        api_views.webhook_endpoint_delete,
        name="webhook-delete",
    ),
    path(
        "webhooks/<uuid:public_id>/deliveries/<uuid:delivery_id>/replay/",
        api_views.webhook_delivery_replay,
        name="webhook-replay",
    ),
    path("payments/", payment_views.payments, name="payments"),
    path("payments/return/", payment_views.payments_return, name="payments-return"),
    path("payments/refresh/", payment_views.payments_refresh, name="payments-refresh"),
    path("balance/", payment_views.balance_view, name="balance"),
    path("balance/return/", payment_views.balance_return, name="balance-return"),
]
