from django.apps import AppConfig


class DriversConfig(AppConfig):
    name = "drivers"
    verbose_name = "Driver app API"

    def ready(self) -> None:
        from drivers.nats import register_publisher

        register_publisher()
