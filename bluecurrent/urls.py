from django.urls import path

from bluecurrent.views import api_tokens

app_name = "bluecurrent"
urlpatterns = [path("tokens/", api_tokens, name="tokens")]
