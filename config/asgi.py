"""ASGI entry point: HTTP through Django, WebSockets through Channels routing."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from config.checks import raise_unless_fail_closed  # noqa: E402
from config.routing import websocket_urlpatterns  # noqa: E402
from config.websocket_denial import DenialResponseMiddleware, install  # noqa: E402

# daphne runs no system checks: a production start with a demo convenience on stops here.
raise_unless_fail_closed()

http_app = django_asgi_app
if settings.DEBUG:
    # The run command serves static files itself; production puts them behind a proxy.
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    http_app = ASGIStaticFilesHandler(django_asgi_app)

websocket_app = URLRouter(websocket_urlpatterns)
if install():
    # Handshakes can be refused with a status of our choosing (503 while the database is down).
    websocket_app = DenialResponseMiddleware(websocket_app)

application = ProtocolTypeRouter(
    {
        "http": http_app,
        # Chargers do not send an Origin header we could check; each WebSocket consumer
        # authenticates on its own (Basic auth, driver token, Blue Current token).
        "websocket": websocket_app,
    }
)
