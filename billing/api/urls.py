from django.urls import path

from billing.api import views

urlpatterns = [
    path("payment-options", views.PaymentOptionsApi.as_view(), name="driver-payment-options"),
    path("purchases", views.PurchaseListApi.as_view(), name="driver-purchases"),
    path("purchases/<str:purchase_id>/pay", views.PurchasePayApi.as_view(), name="driver-purchase-pay"),
    path("purchases/<str:purchase_id>/status", views.PurchaseStatusApi.as_view(), name="driver-purchase-status"),
    path("purchases/<str:purchase_id>/feedback", views.PurchaseFeedbackApi.as_view(), name="driver-purchase-feedback"),
]
