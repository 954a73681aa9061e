"""HTTPClient against the fakes over real loopback HTTP, with a fake clock so nothing really waits."""
import email.utils
import socket
import threading
import time

import pytest

from ansible_collections.runbook.ops.plugins.module_utils import _http
from ansible_collections.runbook.ops.plugins.module_utils._http import APIError, HTTPClient, retry_after_seconds
from ansible_collections.runbook.ops.plugins.module_utils._vercel import VercelClient, read_vercel_error

AUTH = {"Authorization": "Bearer sandboxVercelToken01"}
HOOK = "/services/T0SANDBOX/B0INCIDENT/sandboxsecretincident0001"


def client_for(url, clock, service="Vercel API", **options):
    return HTTPClient(service, url, headers=AUTH, describe_error=read_vercel_error,
                      sleep=clock.sleep, clock=clock, **options)


def paths(server):
    return [(r["method"], r["path"]) for r in server.requests()]


def test_429_is_retried_after_the_retry_after_seconds(fake, clock):
    fake.vercel.add_faults([{"path": "^/v2/user$", "action": "status", "status": 429,
                             "headers": {"Retry-After": "2"}, "times": 2}])
    response = client_for(fake.vercel_url, clock).request("GET", "/v2/user")
    assert response.status == 200 and response.body["user"]["username"] == "ops-bot"
    assert clock.sleeps == [2.0, 2.0]
    assert paths(fake.vercel) == [("GET", "/v2/user")] * 3


def test_503_on_a_get_is_retried_with_a_short_backoff(fake, clock):
    # The health fake sends no rate-limit headers, so the wait is the client's own jittered backoff.
    fake.health.add_faults([{"action": "status", "status": 503}])
    response = client_for(fake.health_url, clock, service="Health").request("GET", "/api/health")
    assert response.status == 200 and response.body["status"] == "ok"
    assert len(clock.sleeps) == 1 and 0 <= clock.sleeps[0] <= _http.BACKOFF_BASE * 2
    assert len(fake.health.requests()) == 2


def test_503_from_vercel_is_not_delayed_until_the_rate_limit_window_resets(fake, clock):
    fake.vercel.add_faults([{"path": "^/v2/user$", "action": "status", "status": 503}])
    assert client_for(fake.vercel_url, clock).request("GET", "/v2/user").status == 200
    assert clock.sleeps and clock.sleeps[0] <= _http.BACKOFF_BASE * 2


def test_post_is_not_repeated_after_a_503(fake, clock):
    fake.slack.add_faults([{"action": "status", "status": 503, "body": "service_unavailable"}])
    client = client_for(fake.slack_url, clock, service="Slack webhook")
    with pytest.raises(APIError) as caught:
        client.request("POST", HOOK, body={"text": "deploy finished"}, shown_path="/services/***")
    assert caught.value.status == 503 and clock.sleeps == []
    assert len(fake.slack.requests()) == 1 and fake.slack.state()["messages"] == []


def test_post_is_repeated_after_a_429(fake, clock):
    fake.slack.add_faults([{"action": "status", "status": 429}])  # the fake adds Retry-After: 1
    client = client_for(fake.slack_url, clock, service="Slack webhook")
    response = client.request("POST", HOOK, body={"text": "deploy finished"})
    assert (response.status, response.body) == (200, "ok")
    assert clock.sleeps == [1.0]
    assert [m["payload"] for m in fake.slack.state()["messages"]] == [{"text": "deploy finished"}]


def test_connection_reset_is_retried_for_a_get(fake, clock):
    fake.vercel.add_faults([{"path": "^/v2/user$", "action": "reset"}])
    response = client_for(fake.vercel_url, clock).request("GET", "/v2/user")
    assert response.status == 200
    assert len(clock.sleeps) == 1 and len(fake.vercel.requests()) == 2


def test_connection_reset_is_not_retried_for_a_post(fake, clock):
    fake.slack.add_faults([{"action": "reset"}])
    client = client_for(fake.slack_url, clock, service="Slack webhook")
    with pytest.raises(APIError) as caught:
        client.request("POST", HOOK, body={"text": "x"}, shown_path="/services/***")
    error = caught.value
    assert error.status is None and "could not be reached" in str(error) and "Reset" in str(error)
    assert clock.sleeps == [] and len(fake.slack.requests()) == 1


def test_retry_after_beyond_the_deadline_gives_up_at_once(fake, clock):
    fake.vercel.add_faults([{"path": "^/v2/user$", "action": "status", "status": 429,
                             "headers": {"Retry-After": "120"}, "times": 50}])
    with pytest.raises(APIError) as caught:
        client_for(fake.vercel_url, clock, deadline=30).request("GET", "/v2/user")
    message = str(caught.value)
    assert caught.value.status == 429 and "rate_limited" in message
    assert "Gave up after 1 attempt(s) within the 30s deadline" in message
    assert clock.sleeps == [] and len(fake.vercel.requests()) == 1


def test_retries_stop_at_the_deadline(fake, clock):
    fake.vercel.add_faults([{"path": "^/v2/user$", "action": "status", "status": 429,
                             "headers": {"Retry-After": "1"}, "times": 50}])
    with pytest.raises(APIError) as caught:
        client_for(fake.vercel_url, clock, deadline=3).request("GET", "/v2/user")
    assert clock.sleeps == [1.0, 1.0, 1.0]
    assert "Gave up after 4 attempt(s)" in str(caught.value)


def test_retries_stop_at_max_attempts(fake, clock):
    fake.vercel.add_faults([{"path": "^/v2/user$", "action": "status", "status": 429,
                             "headers": {"Retry-After": "0"}, "times": 50}])
    with pytest.raises(APIError) as caught:
        client_for(fake.vercel_url, clock).request("GET", "/v2/user")
    assert len(fake.vercel.requests()) == _http.MAX_ATTEMPTS
    assert len(clock.sleeps) == _http.MAX_ATTEMPTS - 1
    assert f"Gave up after {_http.MAX_ATTEMPTS} attempt(s)" in str(caught.value)


EXPIRED = {"action": "status", "status": 401, "body": {"error": {"code": "unauthorized", "message": "Token expired"}}}


@pytest.mark.parametrize("status, fault, path, query, code, text, hint", [
    (401, EXPIRED, "/v2/user", None, "unauthorized", "Token expired", "credential is missing or invalid"),
    (403, None, "/v9/projects/webapp", {"teamId": "team_sandbox02"}, "forbidden", "Not authorized", "lacks access"),
    (404, None, "/v9/projects/nothing", None, "not_found", "Project not found", "Check the identifiers"),
])
def test_client_errors_fail_at_once_with_one_clear_message(fake, clock, status, fault, path, query, code, text, hint):
    if fault:
        fake.vercel.add_faults([fault])
    with pytest.raises(APIError) as caught:
        client_for(fake.vercel_url, clock).request("GET", path, query=query)
    message = str(caught.value)
    assert message.startswith(f"Vercel API: GET {fake.vercel_url}{path} answered {status} ({code}: {text}).")
    assert hint in message
    assert clock.sleeps == [] and len(fake.vercel.requests()) == 1
    assert caught.value.to_result()["api_error"] == {"code": code, "message": text}


def test_request_id_is_reported(fake, clock):
    fake.vercel.add_faults([{"action": "status", "status": 403, "headers": {"X-Vercel-Id": "hnd1::abc-123"}}])
    with pytest.raises(APIError) as caught:
        client_for(fake.vercel_url, clock).request("GET", "/v2/user")
    assert caught.value.request_id == "hnd1::abc-123"
    assert "Request id hnd1::abc-123." in str(caught.value)


def test_shown_path_keeps_a_secret_path_out_of_the_message(fake, clock):
    secret_path = "/services/T0/B0/topsecretvalue"
    client = client_for(fake.slack_url, clock, service="Slack webhook")
    with pytest.raises(APIError) as caught:
        client.request("POST", secret_path, body={"text": "x"}, shown_path="/services/***")
    assert caught.value.status == 404 and f"POST {fake.slack_url}/services/*** answered 404" in str(caught.value)
    assert "topsecretvalue" not in str(caught.value) and "topsecretvalue" not in repr(caught.value.to_result())


def test_malformed_json_comes_back_as_text_not_a_crash(fake, clock):
    fake.vercel.add_faults([{"path": "^/v2/user$", "action": "malformed"}])
    response = client_for(fake.vercel_url, clock).request("GET", "/v2/user")
    assert response.status == 200 and response.body == '{"broken": [1, 2, {"truncated": '


def test_json_body_and_query_are_sent(fake, clock):
    client = client_for(fake.slack_url, clock, service="Slack webhook")
    client.request("POST", HOOK, query={"b": "2", "a": "1"}, body={"text": "héllo"})
    sent = fake.slack.requests()[0]
    assert sent["query"] == {"a": "1", "b": "2"} and sent["body"] == {"text": "héllo"}
    assert sent["headers"]["Content-Type"] == "application/json; charset=utf-8"


@pytest.mark.parametrize("headers, expected", [
    ({"retry-after": "7"}, 7.0),
    ({"retry-after": " 0 "}, 0.0),
    ({"retry-after": email.utils.formatdate(1_000_030, usegmt=True)}, 30.0),
    ({"retry-after": email.utils.formatdate(999_000, usegmt=True)}, 0.0),  # a date in the past: no wait
    ({"x-ratelimit-reset": "1700000012"}, 12.0),  # Vercel: epoch seconds
    ({"ratelimit-reset": "5"}, 5.0),  # PagerDuty: seconds left
    ({"retry-after": "soon", "ratelimit-reset": "4"}, 4.0),
    ({}, None),
])
def test_retry_after_seconds_of_a_rate_limit(headers, expected):
    now = 1_700_000_000.0 if "x-ratelimit-reset" in headers else 1_000_000.0
    waited = retry_after_seconds(headers, now, rate_limited=True)
    if expected is None:
        assert waited is None
    else:
        assert waited == pytest.approx(expected)


def test_rate_limit_reset_headers_do_not_count_for_other_answers():
    assert retry_after_seconds({"x-ratelimit-reset": "1700000012", "ratelimit-reset": "5"}, 1_700_000_000.0) is None
    assert retry_after_seconds({"retry-after": "3", "ratelimit-reset": "5"}, 1_700_000_000.0) == 3.0


def test_retry_after_http_date_against_the_real_clock():
    later = email.utils.formatdate(time.time() + 60, usegmt=True)
    assert 55 <= retry_after_seconds({"retry-after": later}, time.time()) <= 60


@pytest.fixture
def broken_server():
    """A loopback server of our own that answers every request with the bytes it is given."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    replies = []

    def serve():
        while True:
            try:
                connection, dummy = listener.accept()
            except OSError:
                return
            with connection:
                connection.recv(65536)
                connection.sendall(replies.pop(0) if replies else b"")

    threading.Thread(target=serve, daemon=True).start()
    yield "http://127.0.0.1:%d" % listener.getsockname()[1], replies
    listener.close()


@pytest.mark.parametrize("reply", [
    b"garbage\r\n\r\n",  # BadStatusLine
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"a\":",  # IncompleteRead
], ids=["bad-status-line", "truncated-body"])
def test_a_broken_http_answer_is_an_api_error(broken_server, clock, reply):
    url, replies = broken_server
    replies.append(reply)
    with pytest.raises(APIError) as caught:
        client_for(url, clock).request("POST", "/x")
    assert caught.value.status is None and "could not be reached" in str(caught.value)


def test_a_token_with_a_trailing_line_break_still_works(fake):
    client = VercelClient("sandboxVercelToken01\n", team="acme", base_url=fake.vercel_url)
    assert client.project("webapp")["name"] == "webapp"


def test_a_credential_that_cannot_be_sent_fails_at_once_without_showing_it(fake, clock):
    client = VercelClient("sandboxVercel\nToken01", team="acme", base_url=fake.vercel_url,
                          sleep=clock.sleep, clock=clock)
    with pytest.raises(APIError) as caught:
        client.project("webapp")
    message = str(caught.value)
    assert "stray characters or line breaks" in message
    assert "sandboxVercel" not in message and "Token01" not in message
    assert clock.sleeps == []  # trying again cannot help


def test_no_attempt_outlasts_the_deadline(fake):
    fake.vercel.add_faults([{"path": "^/v2/user$", "action": "delay", "delay": 5, "times": 5}])
    client = HTTPClient("Vercel API", fake.vercel_url, headers=AUTH, timeout=30, deadline=1)
    started = time.monotonic()
    with pytest.raises(APIError) as caught:
        client.request("GET", "/v2/user")
    assert "timed out" in str(caught.value)
    assert time.monotonic() - started < 4  # the 30 s timeout was cut to what was left of the 1 s deadline


def test_an_html_error_page_is_named_not_quoted(fake, clock):
    page = "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>" + "x" * 5000 + "</body></html>"
    fake.vercel.add_faults([{"path": "^/v2/user$", "action": "status", "status": 400, "body": page}])
    with pytest.raises(APIError) as caught:
        client_for(fake.vercel_url, clock).request("GET", "/v2/user")
    assert "an HTML page instead of the API's answer" in str(caught.value) and "xxxx" not in str(caught.value)
