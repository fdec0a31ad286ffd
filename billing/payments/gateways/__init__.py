"""Payment gateways: one interface (``base.PaymentGateway``), one module per provider.

A gateway is built for the current tenant from its payment settings by the builder its
module registers; billing code asks ``gateway_for(name)`` and never names a provider's
class. To add a provider: implement ``PaymentGateway`` in a module here, register a
builder with ``gateway_register``, and import the module below.
"""

from __future__ import annotations

from collections.abc import Callable

from billing.payments.gateways.base import (
    GatewayConfigError,
    GatewayError,
    GatewayUnavailable,
    GatewayUnsupported,
    HostedPage,
    IntentStatus,
    MethodSetup,
    PaymentGateway,
    PaymentRequest,
    PaymentState,
    RefundState,
    StoredMethod,
)

GatewayBuilder = Callable[[], PaymentGateway]

_BUILDERS: dict[str, GatewayBuilder] = {}


def gateway_register(name: str, builder: GatewayBuilder) -> None:
    """``builder()`` returns the gateway for the tenant schema the connection is in,
    or raises GatewayConfigError when the tenant has not set it up."""
    _BUILDERS[name] = builder


def gateway_names() -> list[str]:
    return sorted(_BUILDERS)


def gateway_for(name: str) -> PaymentGateway:
    try:
        builder = _BUILDERS[name]
    except KeyError:
        raise GatewayConfigError(f"There is no payment gateway “{name}”.") from None
    return builder()


def _register_builtin() -> None:
    # config imports this package's gateways; looked up at call time.
    from billing.payments.gateways import config

    gateway_register("stripe", config.stripe_gateway_for_tenant)
    gateway_register("bank_transfer", config.bank_transfer_gateway_for_tenant)


_register_builtin()

__all__ = [
    "GatewayConfigError",
    "GatewayError",
    "GatewayUnavailable",
    "GatewayUnsupported",
    "HostedPage",
    "IntentStatus",
    "MethodSetup",
    "PaymentGateway",
    "PaymentRequest",
    "PaymentState",
    "RefundState",
    "StoredMethod",
    "gateway_for",
    "gateway_names",
    "gateway_register",
]
