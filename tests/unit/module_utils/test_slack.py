"""SlackWebhook against the Slack fake: the webhook URL is the secret and must never be shown."""
import socket

import pytest

from ansible_collections.runbook.ops.plugins.module_utils import _http
from ansible_collections.runbook.ops.plugins.module_utils._http import APIError
from ansible_collections.runbook.ops.plugins.module_utils._slack import SlackWebhook, split_webhook

HOOK = "/services/T0SANDBOX/B0INCIDENT/sandboxsecretincident0001"
SECRET = "sandboxsecretincident0001"


def webhook(fake, path=HOOK, sleeps=None):
    recorded = [] if sleeps is None else sleeps
    return SlackWebhook(fake.slack_url + path, sleep=recorded.append)


def assert_nothing_secret(fake, text, path=HOOK):
    # The host is no secret (it shows where the request went); the path is the credential.
    assert fake.slack_url + path not in text and path not in text
    assert path.rsplit("/", 1)[-1] not in text


def test_post_is_delivered(fake):
    assert webhook(fake).post({"text": "Rollback of webapp started"}) == 200
    messages = fake.slack.state()["messages"]
    assert [(m["channel"], m["payload"]) for m in messages] == [("#incidents", {"text": "Rollback of webapp started"})]


@pytest.mark.parametrize("path, payload, fault, status, code, hint", [
    ("/services/T0/B0/wrongsecret0001", {"text": "x"}, None, 404, "no_service", "create a new one"),
    (HOOK, {"username": "bot"}, None, 400, "no_text", "no text, blocks or attachments"),
    (HOOK, {"text": "x"}, {"action": "status", "status": 400, "body": "invalid_payload"}, 400, "invalid_payload",
     "not valid JSON for Slack"),
    (HOOK, {"text": "x", "blocks": [{"no": "type"}]}, None, 400, "invalid_blocks", "Block Kit"),
])
def test_refusals_are_clear_and_never_show_the_url(fake, path, payload, fault, status, code, hint):
    if fault:
        fake.slack.add_faults([fault])
    with pytest.raises(APIError) as caught:
        webhook(fake, path).post(payload)
    error = caught.value
    message = str(error)
    assert message.startswith(f"Slack webhook: POST {fake.slack_url}/services/*** answered {status} ({code}). ")
    assert hint in message and (error.status, error.code) == (status, code)
    assert_nothing_secret(fake, message + repr(error.to_result()), path)
    assert len(fake.slack.requests()) == 1  # a refusal is not retried
    assert fake.slack.state()["messages"] == []


def test_an_answer_other_than_ok_is_an_error(fake):
    fake.slack.add_faults([{"action": "status", "status": 200, "body": "<html>login</html>"}])
    with pytest.raises(APIError) as caught:
        webhook(fake).post({"text": "x"})
    assert "the answer was not 'ok'" in str(caught.value) and "not be a Slack incoming webhook" in str(caught.value)
    assert_nothing_secret(fake, str(caught.value))


def test_refused_connection_is_retried_and_the_message_has_no_secret(fake):
    # A loopback port that was free a moment ago: nothing listens there, so the connection is refused,
    # which proves the post never left and makes a repeat safe.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        origin = "http://127.0.0.1:%d" % probe.getsockname()[1]
    sleeps = []
    with pytest.raises(APIError) as caught:
        SlackWebhook(origin + HOOK, sleep=sleeps.append, deadline=1000).post({"text": "x"})
    message = str(caught.value)
    assert caught.value.status is None and "could not be reached (ConnectionRefusedError" in message
    assert len(sleeps) == _http.MAX_ATTEMPTS - 1 and f"Gave up after {_http.MAX_ATTEMPTS} attempt(s)" in message
    assert SECRET not in message and origin + HOOK not in message


def test_rate_limit_is_retried_after_retry_after(fake):
    fake.slack.add_faults([{"action": "status", "status": 429, "headers": {"Retry-After": "3"}}])
    sleeps = []
    assert webhook(fake, sleeps=sleeps).post({"text": "deploy finished"}) == 200
    assert sleeps == [3.0]
    assert len(fake.slack.requests()) == 2 and len(fake.slack.state()["messages"]) == 1


def test_split_webhook():
    assert split_webhook(" https://hooks.slack.com/services/T0/B0/abc ") == (
        "https://hooks.slack.com", "/services/T0/B0/abc")


@pytest.mark.parametrize("value", [
    "sandboxsecretincident0001",
    "hooks.slack.com/services/T0/B0/sandboxsecretincident0001",
    "ftp://hooks.slack.com/services/T0/B0/sandboxsecretincident0001",
    "https://hooks.slack.com/",
    "https:///services/T0/B0/sandboxsecretincident0001",
])
def test_split_webhook_refuses_non_urls_without_echoing_them(value):
    with pytest.raises(ValueError) as caught:
        split_webhook(value)
    assert "not an http(s) URL with a path" in str(caught.value)
    assert SECRET not in str(caught.value) and "hooks.slack.com" not in str(caught.value)


def test_constructor_refuses_a_bad_url_before_any_request(fake):
    with pytest.raises(ValueError):
        SlackWebhook("not a url " + SECRET)
    assert fake.slack.requests() == []
