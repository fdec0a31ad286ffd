"""Client area routes of a tenant host (namespace ``account``)."""

from django.urls import path

from portals.client_area import domains, support, views

app_name = "account"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("services/", views.services, name="services"),
    path("services/<uuid:public_id>/", views.service_detail, name="service"),
    path("services/<uuid:public_id>/panel/", views.service_panel, name="service-panel"),
    path(
        "services/<uuid:public_id>/panel/login/",
        views.service_panel_login,
        name="service-panel-login",
    ),
    path("services/<uuid:public_id>/upgrade/", views.service_upgrade, name="service-upgrade"),
    path("services/<uuid:public_id>/cancel/", views.service_cancel_view, name="service-cancel"),
    path("services/<uuid:public_id>/domain/", domains.domain_detail, name="domain"),
    path(
        "services/<uuid:public_id>/domain/change/<slug:change>/",
        domains.domain_change,
        name="domain-change",
    ),
    path(
        "services/<uuid:public_id>/domain/contact/",
        domains.domain_contact,
        name="domain-contact",
    ),
    path(
        "services/<uuid:public_id>/domain/auto-renew/",
        domains.domain_auto_renew,
        name="domain-auto-renew",
    ),
    path(
        "services/<uuid:public_id>/domain/auth-code/",
        domains.domain_auth_code,
        name="domain-auth-code",
    ),
    path(
        "services/<uuid:public_id>/domain/transfer/",
        domains.domain_transfer_again,
        name="domain-transfer-retry",
    ),
    path(
        "services/<uuid:public_id>/domain/restore/",
        domains.domain_restore,
        name="domain-restore",
    ),
    path("invoices/", views.invoices, name="invoices"),
    path("invoices/<uuid:public_id>/", views.invoice_detail, name="invoice"),
    path("invoices/<uuid:public_id>/pdf/", views.invoice_pdf, name="invoice-pdf"),
    path("invoices/<uuid:public_id>/einvoice/", views.invoice_einvoice, name="invoice-einvoice"),
    path("invoices/<uuid:public_id>/pay/", views.invoice_pay, name="invoice-pay"),
    path("invoices/<uuid:public_id>/card/", views.invoice_card, name="invoice-card"),
    path(
        "invoices/<uuid:public_id>/card/return/",
        views.invoice_card_return,
        name="invoice-card-return",
    ),
    path("payment-methods/", views.payment_methods, name="payment-methods"),
    path(
        "payment-methods/return/",
        views.payment_methods_return,
        name="payment-methods-return",
    ),
    path("profile/", views.profile, name="profile"),
    path("privacy/", views.privacy, name="privacy"),
    path("support/", support.tickets, name="tickets"),
    path("support/new/", support.ticket_new, name="ticket-new"),
    path("support/<uuid:public_id>/", support.ticket_detail, name="ticket"),
    path("support/<uuid:public_id>/close/", support.ticket_close, name="ticket-close"),
    path(
        "support/attachments/<uuid:public_id>/",
        support.attachment_download,
        name="ticket-attachment",
    ),
]
