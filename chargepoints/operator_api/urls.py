"""/api/operator/ routes."""
urlpatterns: list = []
