from django.apps import AppConfig


class CsmsConfig(AppConfig):
    """The project package as an app: the wiring layer's demo data (manage.py load_demo)
    and the project-wide system checks."""

    name = "config"
    label = "csms_config"
    verbose_name = "CSMS configuration"

    def ready(self) -> None:
        from config import checks  # noqa: F401 - registers the checks
