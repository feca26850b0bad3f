import pytest
import requests

from accounts.sms import ConsoleSmsProvider, HttpSmsProvider, SmsError, get_sms_provider


def test_the_console_provider_is_the_default(settings, caplog):
    provider = get_sms_provider()
    assert isinstance(provider, ConsoleSmsProvider)
    provider.send(to="+31612345678", text="code 123456")
    assert "code 123456" in caplog.text


def test_the_http_provider_posts_json_with_a_bearer_token(settings, monkeypatch):
    settings.SMS_PROVIDER = "http"
    settings.SMS_HTTP_URL = "https://sms.example/send"
    settings.SMS_HTTP_TOKEN = "secret"
    seen = {}

    class Answer:
        status_code = 202

    def post(url, json, headers, timeout):
        seen.update(url=url, json=json, headers=headers)
        return Answer()

    monkeypatch.setattr(requests, "post", post)
    provider = get_sms_provider()
    assert isinstance(provider, HttpSmsProvider)
    provider.send(to="+31612345678", text="hi")
    assert seen["url"] == "https://sms.example/send"
    assert seen["json"] == {"to": "+31612345678", "from": "CSMS", "text": "hi"}
    assert seen["headers"] == {"Authorization": "Bearer secret"}


def test_the_http_provider_reports_failures(settings, monkeypatch):
    settings.SMS_PROVIDER = "http"
    settings.SMS_HTTP_URL = "https://sms.example/send"

    def down(*args, **kwargs):
        raise requests.ConnectionError("nope")

    monkeypatch.setattr(requests, "post", down)
    with pytest.raises(SmsError):
        get_sms_provider().send(to="+31612345678", text="hi")


def test_the_http_provider_needs_a_url(settings):
    settings.SMS_PROVIDER = "http"
    settings.SMS_HTTP_URL = ""
    with pytest.raises(SmsError):
        get_sms_provider()
