from django.apps import AppConfig


class SessionsAppConfig(AppConfig):
    name = "sessions_app"
    verbose_name = "Charge sessions"

    def ready(self) -> None:
        from accounts.scoping import register_drivers_of_operator
        from sessions_app.selectors import drivers_of_operator

        register_drivers_of_operator(drivers_of_operator)
