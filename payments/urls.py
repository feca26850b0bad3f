from django.urls import path

from payments import views

app_name = "payments"

urlpatterns = [
    path("sandbox/<uuid:reference>/", views.sandbox_pay, name="sandbox-pay"),
    path("klarna/<uuid:public_id>/", views.klarna_pay, name="klarna-pay"),
    path("return/", views.payment_return, name="payment-return"),
    path("reservations/return/", views.reservation_return, name="reservation-return"),
]
