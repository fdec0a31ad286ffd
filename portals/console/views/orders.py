"""The console's orders: the list by status and an order's items and services."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from billing.models import Order
from billing.selectors import order_list
from portals.common.access import console_page
from portals.common.paging import paginate
from portals.console import selectors as console_selectors


@console_page
def orders(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    rows = order_list(status=status if status in Order.Status.values else None)
    return render(
        request,
        "console/orders.html",
        {"page": paginate(request, rows), "status": status, "statuses": Order.Status.choices},
    )


@console_page
def order_detail(request: HttpRequest, public_id) -> HttpResponse:
    order = get_object_or_404(order_list(), public_id=public_id)
    return render(
        request,
        "console/order.html",
        {
            "order": order,
            "items": console_selectors.order_items(order=order),
            "services": console_selectors.order_services(order=order),
        },
    )
