"""Provider console routes of the platform host (namespace ``provider``)."""

from django.urls import path

from portals.provider.views import catalogue, dashboard, desk, drift, operations, resellers

urlpatterns = [
    path("", dashboard.home, name="home"),
    path("language/", dashboard.language, name="language"),
    path("resellers/", resellers.resellers, name="resellers"),
    path("resellers/new/", resellers.reseller_new, name="reseller-new"),
    path("resellers/<str:public_id>/", resellers.reseller, name="reseller"),
    path("resellers/<str:public_id>/ledger.csv", resellers.reseller_ledger_csv, name="ledger-csv"),
    path("resellers/<str:public_id>/balance/", resellers.reseller_balance_change, name="balance"),
    path(
        "resellers/<str:public_id>/entries/<int:entry_id>/reverse/",
        resellers.entry_reverse,
        name="entry-reverse",
    ),
    path("resellers/<str:public_id>/status/", resellers.reseller_status, name="reseller-status"),
    path("resellers/<str:public_id>/terms/", resellers.reseller_terms, name="reseller-terms"),
    path(
        "resellers/<str:public_id>/credentials/",
        resellers.reseller_credential,
        name="credential-issue",
    ),
    path(
        "resellers/<str:public_id>/credentials/<str:prefix>/revoke/",
        resellers.reseller_credential_revoke,
        name="credential-revoke",
    ),
    path("catalogue/", catalogue.plans, name="plans"),
    path("catalogue/new/", catalogue.plan_new, name="plan-new"),
    path("catalogue/<int:pk>/", catalogue.plan, name="plan"),
    path("catalogue/<int:pk>/options/new/", catalogue.option_new, name="option-new"),
    path("catalogue/<int:pk>/options/<int:option_pk>/", catalogue.option, name="option"),
    path("price-lists/", catalogue.price_lists, name="price-lists"),
    path("price-lists/<int:pk>/", catalogue.price_list, name="price-list"),
    path("operations/", operations.queue, name="operations"),
    path("operations/jobs/<uuid:public_id>/retry/", operations.job_retry, name="job-retry"),
    path("operations/jobs/<uuid:public_id>/cancel/", operations.job_cancel, name="job-cancel"),
    path(
        "operations/commands/<str:account>/<str:public_id>/retry/",
        operations.command_retry,
        name="command-retry",
    ),
    path(
        "operations/commands/<str:account>/<str:public_id>/cancel/",
        operations.command_cancel,
        name="command-cancel",
    ),
    path("servers/", operations.servers, name="servers"),
    path("desk/", desk.desk, name="desk"),
    path("desk/<str:public_id>/", desk.desk_ticket, name="desk-ticket"),
    path("desk/<str:public_id>/reply/", desk.desk_reply, name="desk-reply"),
    path("desk/<str:public_id>/status/", desk.desk_status, name="desk-status"),
    path("drift/", drift.drift, name="drift"),
    path("drift/run/", drift.drift_run, name="drift-run"),
    path("drift/<int:pk>/repair/", drift.drift_repair, name="drift-repair"),
    path("drift/<int:pk>/resolve/", drift.drift_resolve, name="drift-resolve"),
]
