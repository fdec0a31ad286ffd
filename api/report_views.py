"""The reports on the API: the same figures as the console's pages, from the same
selectors (billing.reports), for one period given as ``date_from`` and ``date_to``."""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.serializers import Serializer

from api import serializers as s
from api.views import ApiView
from billing import reports
from billing.selectors import tenant_currency


class ReportView(ApiView):
    required_scopes: ClassVar[dict[str, str]] = {"GET": "reports:read"}
    schema_tag = "Reports"
    pagination_class = None
    filter_backends: ClassVar[list] = []
    query_serializer: ClassVar[type[Serializer]] = s.ReportPeriodQuerySerializer

    def query(self) -> tuple[reports.ReportPeriod, dict[str, Any], date]:
        """The period asked for (a 400 for a bad one) and the other query values."""
        # A plain dict: as a QueryDict, an empty date would read as no date.
        query = self.query_serializer(data=self.request.query_params.dict())
        query.is_valid(raise_exception=True)
        data = dict(query.validated_data)
        today = timezone.localdate()
        try:
            period = reports.report_period(
                date_from=data.pop("date_from", None),
                date_to=data.pop("date_to", None),
                today=today,
            )
        except reports.ReportPeriodError as exc:
            raise ValidationError({"date_from": [str(exc)]}) from exc
        return period, data, today

    def respond(self, serializer_class: type[Serializer], period, report) -> Response:
        body = {"currency": tenant_currency(), "period": period, "report": report}
        return Response(serializer_class(body).data)


class RevenueReportView(ReportView):
    @extend_schema(
        operation_id="reports_revenue",
        summary="Net revenue by product and month",
        description="Issued invoices less credit notes, net of tax, each line under the "
        "product of the service it charged (null for lines of no service); a credit note "
        "counts in the month it was issued.",
        parameters=[s.ReportPeriodQuerySerializer],
        responses=s.RevenueReportSerializer,
    )
    def get(self, request):
        period, _extra, _today = self.query()
        return self.respond(
            s.RevenueReportSerializer, period, reports.revenue_by_product(period=period)
        )


class TaxReportView(ReportView):
    @extend_schema(
        operation_id="reports_taxes",
        summary="Net sales and VAT by buyer country and rate",
        description="The sales without VAT (reverse charge, zero-rated, exempt, out of scope) "
        "are apart, per country and rule.",
        parameters=[s.ReportPeriodQuerySerializer],
        responses=s.TaxReportSerializer,
    )
    def get(self, request):
        period, _extra, _today = self.query()
        return self.respond(s.TaxReportSerializer, period, reports.taxes_by_country(period=period))


class ReceivablesReportView(ReportView):
    @extend_schema(
        operation_id="reports_receivables",
        summary="Receivables ageing as of a day",
        description="What the invoices issued by the day still asked for at its end, per "
        "client, by days past due: today by default, or a day past (the end of a year), "
        "read from the payments, refunds and credit notes made by then.",
        parameters=[s.AgeingQuerySerializer],
        responses=s.ReceivablesReportSerializer,
    )
    def get(self, request):
        query = s.AgeingQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        try:
            on_date = reports.ageing_date(
                on_date=query.validated_data.get("on_date"), today=timezone.localdate()
            )
        except reports.ReportPeriodError as exc:
            raise ValidationError({"on_date": [str(exc)]}) from exc
        return self.respond(
            s.ReceivablesReportSerializer, None, reports.receivables_ageing(on_date=on_date)
        )


class MrrReportView(ReportView):
    @extend_schema(
        operation_id="reports_mrr",
        summary="MRR movement by month",
        description="Monthly recurring revenue at the start and end of each month, and what "
        "moved it: new services, upgrades, downgrades and cancellations.",
        parameters=[s.ReportPeriodQuerySerializer],
        responses=s.MrrReportSerializer,
    )
    def get(self, request):
        period, _extra, _today = self.query()
        return self.respond(s.MrrReportSerializer, period, reports.mrr_movement(period=period))


class TopClientsReportView(ReportView):
    query_serializer = s.TopClientsQuerySerializer

    @extend_schema(
        operation_id="reports_top_clients",
        summary="The clients with the most net revenue",
        parameters=[s.TopClientsQuerySerializer],
        responses=s.TopClientsReportSerializer,
    )
    def get(self, request):
        period, extra, _today = self.query()
        top = reports.top_clients(period=period, limit=extra["limit"])
        return self.respond(s.TopClientsReportSerializer, period, top)
