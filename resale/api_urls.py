from django.urls import path

from resale import api

urlpatterns = [
    path("catalogue/", api.CatalogueView.as_view(), name="resale-catalogue"),
    path("commands/", api.CommandView.as_view(), name="resale-commands"),
    path("services/", api.ServiceListView.as_view(), name="resale-services"),
    path("services/<str:service_ref>/", api.ServiceView.as_view(), name="resale-service"),
    path("services/<str:service_ref>/sso/", api.ServiceSsoView.as_view(), name="resale-sso"),
    path(
        "services/<str:service_ref>/panel-login/",
        api.ServicePanelLoginView.as_view(),
        name="resale-panel-login",
    ),
    path("escalations/", api.EscalationsView.as_view(), name="resale-escalations"),
    path("escalations/<str:ref>/", api.EscalationView.as_view(), name="resale-escalation"),
    path(
        "escalations/<str:ref>/messages/",
        api.EscalationMessagesView.as_view(),
        name="resale-escalation-messages",
    ),
    path(
        "escalations/<str:ref>/status/",
        api.EscalationStatusView.as_view(),
        name="resale-escalation-status",
    ),
    path("domains/check/", api.DomainCheckView.as_view(), name="resale-domain-check"),
    path(
        "domains/<str:service_ref>/<str:operation>/",
        api.DomainManageView.as_view(),
        name="resale-domain-manage",
    ),
    path("balance/", api.BalanceView.as_view(), name="resale-balance"),
    path("ledger/", api.LedgerView.as_view(), name="resale-ledger"),
    path(
        "statements/<int:year>-<int:month>/", api.StatementView.as_view(), name="resale-statement"
    ),
]
