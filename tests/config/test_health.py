import time

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


@pytest.mark.django_db
def test_health_has_no_nats_entry_without_nats_url(client, settings):
    settings.NATS_URL = ""
    assert "nats" not in client.get("/health").json()["checks"]


@pytest.mark.django_db
def test_health_shows_nats_down_and_stays_200(client, settings, monkeypatch):
    from drivers import nats as driver_nats

    settings.NATS_URL = "nats://127.0.0.1:1"
    publisher = driver_nats.NatsPublisher()
    monkeypatch.setattr(driver_nats, "publisher", publisher)
    try:
        assert client.get("/health").json()["checks"]["nats"]["status"] == "not started"
        publisher.publish("drivers.1.X", b"{}")
        deadline = time.monotonic() + 10
        while (nats := client.get("/health").json()["checks"]["nats"])["status"] != "down":
            assert time.monotonic() < deadline, nats
            time.sleep(0.05)
        response = client.get("/health")
        assert response.status_code == 200
        assert response.json()["status"] == "ok"
        assert response.json()["checks"]["nats"] == {"status": "down", "queued": 1, "dropped": 0, "sent": 0}
    finally:
        publisher.stop()
