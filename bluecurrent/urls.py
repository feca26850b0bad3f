from django.urls import path

from bluecurrent.views import api_tokens, driver_login, driver_logout

app_name = "bluecurrent"
urlpatterns = [
    path("login/", driver_login, name="login"),
    path("logout/", driver_logout, name="logout"),
    path("tokens/", api_tokens, name="tokens"),
]
