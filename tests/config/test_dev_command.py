"""The run command (dev.py): payment URLs follow HOST/PORT, and the embedded Redis it
starts is the one it stops."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from config import embedded_redis

ROOT = Path(__file__).resolve().parents[2]


def _dev():
    spec = importlib.util.spec_from_file_location("dev_command", ROOT / "dev.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_payment_urls_follow_the_port_the_server_runs_on():
    env = _dev().run_environment({"PORT": "8123"})
    assert env["PAYMENTS_PUBLIC_BASE_URL"] == "http://127.0.0.1:8123"
    assert env["DJANGO_SETTINGS_MODULE"] == "config.settings.dev"


def test_an_explicit_public_url_and_settings_module_win():
    env = _dev().run_environment(
        {"PORT": "8123", "PAYMENTS_PUBLIC_BASE_URL": "https://csms.example", "DJANGO_SETTINGS_MODULE": "x"}
    )
    assert env["PAYMENTS_PUBLIC_BASE_URL"] == "https://csms.example" and env["DJANGO_SETTINGS_MODULE"] == "x"


def test_the_embedded_redis_started_is_stopped_and_one_already_running_is_left_alone(tmp_path):
    socket_path = tmp_path / "redis.sock"
    assert embedded_redis.ensure_running(socket_path) is True
    assert embedded_redis.ensure_running(socket_path) is False  # already answering: not ours to stop
    embedded_redis.stop(socket_path)
    assert not embedded_redis.is_answering(socket_path)
