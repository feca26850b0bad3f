import pytest


@pytest.mark.django_db
def test_health_reports_database_and_redis_ok(client):
    response = client.get("/health")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert body["down"] == []
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["redis"]["status"] == "ok"


@pytest.mark.django_db
def test_health_reports_degraded_when_redis_is_unreachable(client, settings):
    # Chargers are still served without Redis (issue 17): degraded, not down; a load
    # balancer keeps sending traffic, an operator sees what is missing.
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["down"] == ["redis"]
    assert body["checks"]["redis"]["status"] == "error"
    assert body["checks"]["database"]["status"] == "ok"
