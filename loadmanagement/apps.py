from django.apps import AppConfig


class LoadManagementConfig(AppConfig):
    name = "loadmanagement"
    verbose_name = "Load management"

    def ready(self) -> None:
        from loadmanagement import receivers

        receivers.connect()
