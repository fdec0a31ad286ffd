"""Storefront routes of a tenant host (namespace ``shop``)."""

from django.urls import path

from portals.storefront import views

app_name = "shop"

urlpatterns = [
    path("store/plan/<uuid:public_id>/", views.plan_detail, name="plan"),
    path("store/plan/<uuid:public_id>/price/", views.plan_price, name="plan-price"),
    path("store/<slug:slug>/", views.group_detail, name="group"),
    path("domains/", views.domain_search, name="domains"),
    path("domains/add/", views.domain_add, name="domain-add"),
    path("domains/transfer/", views.domain_transfer, name="domain-transfer"),
    path("cart/", views.cart_view, name="cart"),
    path("cart/<int:item_id>/domain/", views.cart_item_domain, name="cart-item-domain"),
    path("checkout/", views.checkout, name="checkout"),
    path("checkout/quote/", views.checkout_quote, name="checkout-quote"),
    path("order/<uuid:public_id>/", views.order_detail, name="order"),
    path("language/", views.language_set, name="language"),
    path("terms/", views.terms, name="terms"),
    path("brand/<str:kind>/", views.brand_asset, name="brand-asset"),
]
