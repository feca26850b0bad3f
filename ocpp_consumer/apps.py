from django.apps import AppConfig


class OcppConsumerConfig(AppConfig):
    name = "ocpp_consumer"
    verbose_name = "OCPP"
