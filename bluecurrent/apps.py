from django.apps import AppConfig


class BlueCurrentConfig(AppConfig):
    name = "bluecurrent"
    verbose_name = "Blue Current-compatible API"
