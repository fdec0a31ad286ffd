"""The console's orders: the list by status and an order's items and services."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from billing.models import Order, Service
from portals.common.access import console_page
from portals.common.paging import paginate


@console_page
def orders(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    rows = Order.objects.select_related("client", "invoice")
    if status in Order.Status.values:
        rows = rows.filter(status=status)
    return render(
        request,
        "console/orders.html",
        {"page": paginate(request, rows), "status": status, "statuses": Order.Status.choices},
    )


@console_page
def order_detail(request: HttpRequest, public_id) -> HttpResponse:
    order = get_object_or_404(
        Order.objects.select_related("client", "invoice"), public_id=public_id
    )
    return render(
        request,
        "console/order.html",
        {
            "order": order,
            "items": order.items.select_related("plan"),
            "services": Service.objects.filter(order_item__order=order).select_related("plan"),
        },
    )
