"""What every billing model shares: it lives in tenant schemas only, money columns have
one shape, and rows that show up in URLs carry a public id."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

from billing.cycles import CYCLE_MONTHS, ONE_TIME
from billing.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS


class BillingCycle(models.TextChoices):
    MONTHLY = "monthly", _("Monthly")
    QUARTERLY = "quarterly", _("Quarterly")
    SEMIANNUAL = "semiannual", _("Semi-annually")
    ANNUAL = "annual", _("Annually")
    BIENNIAL = "biennial", _("Biennially")
    TRIENNIAL = "triennial", _("Triennially")
    ONE_TIME = "one_time", _("One time")


# The calendar arithmetic lives in billing.cycles; the two lists must agree.
assert {c.value for c in BillingCycle} == {*CYCLE_MONTHS, ONE_TIME}


def money_column(**kwargs) -> models.DecimalField:
    kwargs.setdefault("default", Decimal(0))
    return models.DecimalField(
        max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, **kwargs
    )


def currency_column(**kwargs) -> models.CharField:
    return models.CharField(max_length=3, **kwargs)


def rate_column(**kwargs) -> models.DecimalField:
    """A tax or discount rate in percent: 22 means 22 %."""
    kwargs.setdefault("default", Decimal(0))
    return models.DecimalField(max_digits=7, decimal_places=4, **kwargs)


def public_id_column() -> models.UUIDField:
    # Integer keys are guessable and leak volumes; URLs and the API use this instead.
    return models.UUIDField(default=uuid.uuid4, unique=True, editable=False)


class TenantModel(models.Model):
    """A table that exists in every tenant schema and not in ``public``
    (see config.routers.SchemaPlacementRouter)."""

    schema_placement = "tenant"

    class Meta:
        abstract = True
