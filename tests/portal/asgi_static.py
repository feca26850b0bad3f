"""The project's ASGI application with static files served, for browser tests: the test
settings run with DEBUG off, where production leaves static files to a proxy."""

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

from config.asgi import application as project_application


async def application(scope, receive, send):
    if scope["type"] == "http":
        return await _static(scope, receive, send)
    return await project_application(scope, receive, send)


_static = ASGIStaticFilesHandler(project_application)
