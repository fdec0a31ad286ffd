"""Writes of the billing core, ``<entity>_<action>``, keyword-only. Each one either does
all it says or, raising BillingError, nothing."""

from billing.errors import BillingError, ImmutableRecordError
from billing.services.catalogue import (
    configurable_option_create,
    configurable_option_price_set,
    plan_create,
    plan_price_set,
    product_create,
    product_group_create,
    tax_rule_set,
)
from billing.services.clients import (
    client_create,
    client_details_save,
    client_update,
    client_user_link,
    client_vat_number_confirm,
    client_vat_number_verify,
    contact_create,
)
from billing.services.commerce import (
    CartPrice,
    PricedItem,
    cart_coupon_apply,
    cart_coupon_remove,
    cart_create,
    cart_item_add,
    cart_item_remove,
    cart_price,
    checkout_place,
    coupon_check,
    coupon_create,
)
from billing.services.credit_notes import CreditLine, credit_note_issue
from billing.services.invoice_status import SUSPENSION_OVERDUE, invoice_status_refresh
from billing.services.invoices import (
    invoice_cancel,
    invoice_create,
    invoice_issue,
    invoice_line_add,
    invoice_mark_overdue,
)
from billing.services.ledger import ledger_entry_append
from billing.services.payments import (
    credit_add,
    credit_apply,
    payment_record,
    payment_refund,
)
from billing.services.plan_changes import (
    OptionsChange,
    PlanChange,
    service_change_options,
    service_change_plan,
)
from billing.services.settings import billing_settings_update, tax_rule_remove
from billing.services.subscriptions import (
    service_activate,
    service_cancel,
    service_create,
    service_recurring_price,
    service_renew,
    service_suspend,
    service_terminate,
    service_unsuspend,
)

__all__ = [
    "SUSPENSION_OVERDUE",
    "BillingError",
    "CartPrice",
    "CreditLine",
    "ImmutableRecordError",
    "OptionsChange",
    "PlanChange",
    "PricedItem",
    "billing_settings_update",
    "cart_coupon_apply",
    "cart_coupon_remove",
    "cart_create",
    "cart_item_add",
    "cart_item_remove",
    "cart_price",
    "checkout_place",
    "client_create",
    "client_details_save",
    "client_update",
    "client_user_link",
    "client_vat_number_confirm",
    "client_vat_number_verify",
    "configurable_option_create",
    "configurable_option_price_set",
    "contact_create",
    "coupon_check",
    "coupon_create",
    "credit_add",
    "credit_apply",
    "credit_note_issue",
    "invoice_cancel",
    "invoice_create",
    "invoice_issue",
    "invoice_line_add",
    "invoice_mark_overdue",
    "invoice_status_refresh",
    "ledger_entry_append",
    "payment_record",
    "payment_refund",
    "plan_create",
    "plan_price_set",
    "product_create",
    "product_group_create",
    "service_activate",
    "service_cancel",
    "service_change_options",
    "service_change_plan",
    "service_create",
    "service_recurring_price",
    "service_renew",
    "service_suspend",
    "service_terminate",
    "service_unsuspend",
    "tax_rule_remove",
    "tax_rule_set",
]
