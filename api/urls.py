"""``/api/`` on a tenant's hosts: the v1 endpoints, the OpenAPI document and its docs page.
Mounted by config.urls with ``path("api/", include("api.urls"))``."""

from django.urls import include, path, re_path

from api import docs, report_views, support_views, views

app_name = "api"

v1_patterns = [
    path(
        "ticket-departments/",
        support_views.TicketDepartmentListView.as_view(),
        name="ticket-departments",
    ),
    path("tickets/", support_views.TicketListView.as_view(), name="tickets"),
    path("tickets/<uuid:id>/", support_views.TicketDetailView.as_view(), name="ticket"),
    path(
        "tickets/<uuid:id>/messages/",
        support_views.TicketMessageListView.as_view(),
        name="ticket-messages",
    ),
    path("clients/", views.ClientListView.as_view(), name="clients"),
    path("clients/<uuid:id>/", views.ClientDetailView.as_view(), name="client"),
    path(
        "clients/<uuid:id>/contacts/",
        views.ClientContactListView.as_view(),
        name="client-contacts",
    ),
    path("products/", views.ProductListView.as_view(), name="products"),
    path("products/<uuid:id>/", views.ProductDetailView.as_view(), name="product"),
    path("plans/", views.PlanListView.as_view(), name="plans"),
    path("plans/<uuid:id>/", views.PlanDetailView.as_view(), name="plan"),
    path("orders/", views.OrderListView.as_view(), name="orders"),
    path("orders/<uuid:id>/", views.OrderDetailView.as_view(), name="order"),
    path("services/", views.ServiceListView.as_view(), name="services"),
    path("services/<uuid:id>/", views.ServiceDetailView.as_view(), name="service"),
    path(
        "services/<uuid:id>/suspend/",
        views.ServiceSuspendView.as_view(),
        name="service-suspend",
    ),
    path(
        "services/<uuid:id>/unsuspend/",
        views.ServiceUnsuspendView.as_view(),
        name="service-unsuspend",
    ),
    path(
        "services/<uuid:id>/terminate/",
        views.ServiceTerminateView.as_view(),
        name="service-terminate",
    ),
    path(
        "services/<uuid:id>/change-plan/",
        views.ServiceChangePlanView.as_view(),
        name="service-change-plan",
    ),
    path("services/<uuid:id>/sso/", views.ServiceSsoView.as_view(), name="service-sso"),
    path("invoices/", views.InvoiceListView.as_view(), name="invoices"),
    path("invoices/<uuid:id>/", views.InvoiceDetailView.as_view(), name="invoice"),
    path("invoices/<uuid:id>/issue/", views.InvoiceIssueView.as_view(), name="invoice-issue"),
    path("invoices/<uuid:id>/cancel/", views.InvoiceCancelView.as_view(), name="invoice-cancel"),
    path("invoices/<uuid:id>/pay/", views.InvoicePayView.as_view(), name="invoice-pay"),
    path("invoices/<uuid:id>/pdf/", views.InvoicePdfView.as_view(), name="invoice-pdf"),
    path(
        "invoices/<uuid:id>/einvoice/",
        views.InvoiceEInvoiceView.as_view(),
        name="invoice-einvoice",
    ),
    path(
        "invoices/<uuid:id>/credit-notes/",
        views.InvoiceCreditNoteListView.as_view(),
        name="invoice-credit-notes",
    ),
    path("credit-notes/", views.CreditNoteListView.as_view(), name="credit-notes"),
    path("credit-notes/<uuid:id>/", views.CreditNoteDetailView.as_view(), name="credit-note"),
    path(
        "credit-notes/<uuid:id>/einvoice/",
        views.CreditNoteEInvoiceView.as_view(),
        name="credit-note-einvoice",
    ),
    path("payments/", views.PaymentListView.as_view(), name="payments"),
    path("payments/<uuid:id>/", views.PaymentDetailView.as_view(), name="payment"),
    path("reports/revenue/", report_views.RevenueReportView.as_view(), name="report-revenue"),
    path("reports/taxes/", report_views.TaxReportView.as_view(), name="report-taxes"),
    path(
        "reports/receivables/",
        report_views.ReceivablesReportView.as_view(),
        name="report-receivables",
    ),
    path("reports/mrr/", report_views.MrrReportView.as_view(), name="report-mrr"),
    path(
        "reports/top-clients/",
        report_views.TopClientsReportView.as_view(),
        name="report-top-clients",
    ),
    path("reseller/balance/", views.ResellerBalanceView.as_view(), name="reseller-balance"),
    path("reseller/ledger/", views.ResellerLedgerView.as_view(), name="reseller-ledger"),
    path(
        "upstream-commands/",
        views.UpstreamCommandListView.as_view(),
        name="upstream-commands",
    ),
    path(
        "upstream-commands/<uuid:id>/",
        views.UpstreamCommandDetailView.as_view(),
        name="upstream-command",
    ),
    path(
        "upstream-commands/<uuid:id>/retry/",
        views.UpstreamCommandRetryView.as_view(),
        name="upstream-command-retry",
    ),
    path(
        "webhook-endpoints/",
        views.WebhookEndpointListView.as_view(),
        name="webhook-endpoints",
    ),
    path(
        "webhook-endpoints/<uuid:id>/",
        views.WebhookEndpointDetailView.as_view(),
        name="webhook-endpoint",
    ),
    path(
        "webhook-endpoints/<uuid:id>/ping/",
        views.WebhookEndpointPingView.as_view(),
        name="webhook-endpoint-ping",
    ),
    path(
        "webhook-deliveries/",
        views.WebhookDeliveryListView.as_view(),
        name="webhook-deliveries",
    ),
    path(
        "webhook-deliveries/<uuid:id>/",
        views.WebhookDeliveryDetailView.as_view(),
        name="webhook-delivery",
    ),
    path(
        "webhook-deliveries/<uuid:id>/replay/",
        views.WebhookDeliveryReplayView.as_view(),
        name="webhook-delivery-replay",
    ),
]

# What the OpenAPI document describes: the v1 endpoints at their full paths.
schema_patterns = [path("api/v1/", include((v1_patterns, "v1")))]

urlpatterns = [
    path("v1/", include((v1_patterns, "v1"))),
    path("schema/", docs.SchemaView.as_view(patterns=schema_patterns), name="schema"),
    path("docs/", docs.docs_page, name="docs"),
    path("docs/assets/<str:name>", docs.docs_asset, name="docs-asset"),
    # Anything else under /api/ is a problem document, never the site's HTML 404 page.
    # [\s\S], not ".": a path may hold an encoded newline.
    re_path(r"^[\s\S]*$", views.api_not_found),
]
