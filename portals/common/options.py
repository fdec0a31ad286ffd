"""The options form shared by the client area's change page and the console's service
page: what the service's plan offers, and the posted form as ``service_change_options``
takes it."""

from __future__ import annotations

from django.http import QueryDict
from django.utils.translation import gettext as _

from billing.models import Service


def option_rows_for(service: Service) -> list[dict]:
    """The options offered with the service's plan, each with its choices priced for the
    service's cycle and what the service has now."""
    current = {o.option_id: o for o in service.options.all()}
    rows = []
    options = service.plan.configurable_options.prefetch_related("choices__prices")
    for option in options.order_by("sort_order", "name"):
        choices = []
        for choice in option.choices.all():
            price = next((p for p in choice.prices.all() if p.cycle == service.billing_cycle), None)
            if price is not None:
                choices.append({"choice": choice, "price": price})
        if choices:
            rows.append({"option": option, "choices": choices, "current": current.get(option.pk)})
    return rows


def options_picked(data: QueryDict, rows: list[dict]) -> dict:
    """The options form as the service wants it: option → choice, (choice, quantity), or
    None to drop it. Raises ValueError on anything not offered."""
    picked = {}
    for row in rows:
        option = row["option"]
        by_pk = {str(c["choice"].pk): c["choice"] for c in row["choices"]}
        value = data.get(f"option-{option.pk}", "")
        if option.kind == option.Kind.QUANTITY:
            try:
                quantity = int(data.get(f"quantity-{option.pk}", "0") or 0)
            except ValueError as exc:
                raise ValueError(
                    _("Enter a whole number of %(option)s.") % {"option": option}
                ) from exc
            choice = row["choices"][0]["choice"]
            picked[option] = (choice, quantity) if quantity else None
        elif not value:
            picked[option] = None
        elif value in by_pk:
            picked[option] = by_pk[value]
        else:
            raise ValueError(_("Choose one of the choices listed."))
    return picked
