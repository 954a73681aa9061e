"""http_watch: the watch window's judging rules against a scripted endpoint on 127.0.0.1 and the fake
clock, then the action plugin as a task runs it: its arguments, its messages and its lines in the log.

The endpoint moves the fake clock on by each answer's seconds instead of taking them, so every poll's
time is exact, the sleeps are recorded, and nothing waits.
"""
import datetime
import functools
import http.server
import json
import socket
import threading
import time

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.runbook.ops.plugins.action import http_watch
from ansible_collections.runbook.ops.plugins.module_utils import _probe
from tests.unit.action.conftest import run

OK_BODY = b'{"status": "ok"}'


def answers(count, status=200, seconds=0.0, body=OK_BODY, hang=0.0):
    """``count`` answers alike, for an endpoint's script."""
    return [{"status": status, "seconds": seconds, "body": body, "hang": hang}] * count


class ScriptedEndpoint:
    """A health endpoint on 127.0.0.1 that answers from a script; an answer beyond it is a 500.

    ``sent_at`` holds the fake clock's time of each request as it arrived. ``hang`` is real seconds
    to wait before answering, for a poll that must time out.
    """

    def __init__(self, clock, script):
        endpoint = self
        self.script, self.sent_at = list(script), []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                endpoint.sent_at.append(clock.now)
                answer = endpoint.script.pop(0) if endpoint.script else answers(1, status=500)[0]
                time.sleep(answer["hang"])
                clock.now += answer["seconds"]
                self.send_response(answer["status"])
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer["body"])))
                self.end_headers()
                self.wfile.write(answer["body"])

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.url = self.base + "/api/health"

    @property
    def requests(self):
        return len(self.sent_at)

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc_info):
        self.server.shutdown()
        self.server.server_close()


def watch(endpoint, clock, **options):
    """The verdict of watch_window on the endpoint, timed by the fake clock."""
    return _probe.watch_window(endpoint.url, options.pop("status", [200]), clock=clock, sleep=clock.sleep, **options)


def closed_port():
    """A port on 127.0.0.1 where nothing listens, so a poll is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ----- the window ------------------------------------------------------------------------------

def test_a_healthy_window_is_polled_until_its_end(clock):
    with ScriptedEndpoint(clock, answers(5, seconds=0.1)) as endpoint:
        verdict = watch(endpoint, clock, duration=10, interval=2)

    assert endpoint.sent_at == pytest.approx([1000, 1002, 1004, 1006, 1008])  # the next would start at the end
    assert clock.sleeps == pytest.approx([1.9, 1.9, 1.9, 1.9])
    assert (verdict["healthy"], verdict["breach"], verdict["reason"]) == (True, None, "")
    assert verdict["stopped_early"] is False
    assert (verdict["polls"], verdict["failures"], verdict["error_rate"]) == (5, 0, 0.0)
    assert (verdict["median_ms"], verdict["p95_ms"], verdict["worst_ms"]) == (100.0, 100.0, 100.0)
    assert verdict["watched_s"] == pytest.approx(8.1) and verdict["reported_error_rate"] is None
    assert verdict["warnings"] == []
    assert [(poll["status"], poll["ms"], poll["ok"], poll["reason"]) for poll in verdict["timeline"]] == \
        [(200, 100.0, True, "")] * 5


def test_the_timeline_is_in_utc_two_seconds_apart(clock):
    with ScriptedEndpoint(clock, answers(3)) as endpoint:
        timeline = watch(endpoint, clock, duration=6, interval=2, min_polls=3)["timeline"]

    moments = [datetime.datetime.fromisoformat(poll["at"].replace("Z", "+00:00")) for poll in timeline]
    assert all(poll["at"].endswith("Z") and moment.utcoffset() == datetime.timedelta(0)
               for poll, moment in zip(timeline, moments))
    assert [(later - earlier).total_seconds() for earlier, later in zip(moments, moments[1:])] == \
        pytest.approx([2.0, 2.0], abs=0.002)


def test_the_timeline_keeps_the_last_100_polls(clock):
    with ScriptedEndpoint(clock, answers(119) + answers(1, status=204)) as endpoint:
        verdict = watch(endpoint, clock, duration=120, interval=1, status=[200, 204])

    assert verdict["polls"] == 120 and len(verdict["timeline"]) == 100
    assert verdict["timeline"][-1]["status"] == 204
    first, last = (datetime.datetime.fromisoformat(verdict["timeline"][i]["at"][:-1]) for i in (0, -1))
    assert (last - first).total_seconds() == pytest.approx(99.0, abs=0.002)  # polls 21 to 120


def test_never_sleeps_past_the_window_and_never_polls_after_it(clock):
    sleep_ends = []

    def sleep(seconds):
        clock.sleep(seconds)
        sleep_ends.append(clock.now)

    with ScriptedEndpoint(clock, answers(3, seconds=0.5)) as endpoint:
        verdict = _probe.watch_window(endpoint.url, [200], duration=10, interval=4, min_polls=3,
                                      clock=clock, sleep=sleep)

    assert endpoint.sent_at == [1000, 1004, 1008]
    assert sleep_ends == [1004, 1008] and max(sleep_ends) < 1010
    assert verdict["watched_s"] == 8.5 and verdict["healthy"] is True  # it does not sleep out the last 1.5 s


def test_a_poll_slower_than_the_interval_is_followed_at_once(clock):
    with ScriptedEndpoint(clock, answers(1, seconds=3.0) + answers(4, seconds=0.1)) as endpoint:
        verdict = watch(endpoint, clock, duration=10, interval=2)

    assert endpoint.sent_at == pytest.approx([1000, 1003, 1005, 1007, 1009]) and clock.sleeps[0] == 0.0
    assert verdict["worst_ms"] == 3000.0 and verdict["polls"] == 5


def test_fewer_polls_than_min_polls_leave_a_warning(clock):
    with ScriptedEndpoint(clock, answers(5, seconds=4.0)) as endpoint:
        verdict = watch(endpoint, clock, duration=10, interval=1)

    assert endpoint.sent_at == [1000, 1004, 1008]  # none after the window, though the script had more
    assert verdict["healthy"] is True and verdict["polls"] == 3 and verdict["watched_s"] == 12
    assert verdict["warnings"] == ["Only 3 polls in the window, fewer than min_polls 5: the error rate and the "
                                   "response time were not judged."]


# ----- error rate ------------------------------------------------------------------------------

def test_the_error_rate_is_judged_only_after_min_polls(clock):
    with ScriptedEndpoint(clock, answers(1, status=503) + answers(20)) as endpoint:
        verdict = watch(endpoint, clock, duration=40, interval=2)

    assert (verdict["healthy"], verdict["breach"], verdict["polls"], verdict["failures"]) == (False, "error_rate", 5, 1)
    assert verdict["reason"] == "error rate 20.0 % (1 of 5 polls failed), above 5 %"
    assert verdict["error_rate"] == 0.2 and verdict["stopped_early"] is True
    assert endpoint.requests == 5  # it stopped at the breach
    assert verdict["timeline"][0] == {**verdict["timeline"][0], "status": 503, "ok": False,
                                      "reason": "answered 503, expected one of 200"}


@pytest.mark.parametrize("max_error_rate, healthy", [(0.1, True), (0.09, False)])
def test_an_error_rate_at_the_limit_is_healthy_and_above_it_is_not(clock, max_error_rate, healthy):
    with ScriptedEndpoint(clock, answers(9) + answers(1, status=502)) as endpoint:
        verdict = watch(endpoint, clock, duration=10, interval=1, max_error_rate=max_error_rate)

    assert verdict["healthy"] is healthy
    assert (verdict["polls"], verdict["failures"], verdict["error_rate"]) == (10, 1, 0.1)
    assert verdict["breach"] == (None if healthy else "error_rate")
    assert verdict["stopped_early"] is False  # the breach came with the window's last poll


def test_a_failed_body_check_is_a_failed_poll(clock):
    with ScriptedEndpoint(clock, answers(5, body=b'{"status": "degraded"}')) as endpoint:
        verdict = watch(endpoint, clock, duration=10, interval=2, body_contains='"ok"', max_consecutive_failures=9,
                        max_error_rate=0.5)

    assert verdict["breach"] == "error_rate" and verdict["failures"] == 5
    assert verdict["timeline"][0]["reason"] == "answered 200 without the text '\"ok\"'"


# ----- consecutive failures --------------------------------------------------------------------

def test_consecutive_failures_stop_the_watch_before_min_polls(clock):
    with ScriptedEndpoint(clock, answers(1) + answers(3, status=503) + answers(20)) as endpoint:
        verdict = watch(endpoint, clock, duration=60, interval=2, min_polls=10, max_error_rate=1)

    assert (verdict["breach"], verdict["polls"], verdict["stopped_early"]) == ("consecutive_failures", 4, True)
    assert verdict["reason"] == "3 failed polls in a row, the last: answered 503, expected one of 200"
    assert endpoint.requests == 4


def test_failures_that_alternate_are_not_in_a_row(clock):
    with ScriptedEndpoint(clock, (answers(1) + answers(1, status=503)) * 5) as endpoint:
        verdict = watch(endpoint, clock, duration=10, interval=1, max_consecutive_failures=2, max_error_rate=0.5)

    assert verdict["healthy"] is True and (verdict["polls"], verdict["failures"]) == (10, 5)


def test_a_site_that_is_down_does_not_wait_out_the_window(clock):
    url = f"http://127.0.0.1:{closed_port()}/api/health"

    verdict = _probe.watch_window(url, [200], duration=1800, interval=30, error_rate_field="error_rate",
                                  clock=clock, sleep=clock.sleep)

    assert (verdict["breach"], verdict["polls"], verdict["stopped_early"]) == ("consecutive_failures", 3, True)
    assert verdict["warnings"] == []  # no answer, so nothing the application could have reported
    assert "Connection refused" in verdict["reason"] and clock.sleeps == [30, 30]
    assert [poll["status"] for poll in verdict["timeline"]] == [None, None, None]


def test_a_poll_that_times_out_is_a_failed_poll(clock):
    with ScriptedEndpoint(clock, answers(1, hang=1.0) + answers(5)) as endpoint:
        verdict = watch(endpoint, clock, duration=10, interval=2, timeout=0.2)

    assert verdict["failures"] == 1 and "timed out" in verdict["timeline"][0]["reason"]
    assert verdict["healthy"] is False and verdict["breach"] == "error_rate"


# ----- response time ---------------------------------------------------------------------------

def test_a_slow_median_is_a_breach_once_min_polls_are_in(clock):
    with ScriptedEndpoint(clock, answers(20, seconds=0.9)) as endpoint:
        verdict = watch(endpoint, clock, duration=40, interval=2, max_response_ms=500)

    assert (verdict["breach"], verdict["polls"], verdict["failures"]) == ("response_time", 5, 0)
    assert verdict["reason"] == "median response time 900 ms over 5 polls, above 500 ms"
    assert verdict["median_ms"] == 900.0 and endpoint.requests == 5


@pytest.mark.parametrize("max_response_ms, breach", [(500, None), (499.9, "response_time")])
def test_a_median_at_the_limit_is_healthy_and_above_it_is_not(clock, max_response_ms, breach):
    with ScriptedEndpoint(clock, answers(5, seconds=0.5)) as endpoint:
        verdict = watch(endpoint, clock, duration=10, interval=2, max_response_ms=max_response_ms)

    assert verdict["breach"] == breach and verdict["polls"] == 5 and verdict["median_ms"] == 500.0


def test_one_slow_poll_does_not_move_the_median(clock):
    script = answers(2, seconds=0.1) + answers(1, seconds=1.9) + answers(17, seconds=0.1)
    with ScriptedEndpoint(clock, script) as endpoint:
        verdict = watch(endpoint, clock, duration=40, interval=2, max_response_ms=500)

    assert verdict["healthy"] is True and verdict["polls"] == 20
    assert (verdict["median_ms"], verdict["p95_ms"], verdict["worst_ms"]) == (100.0, 100.0, 1900.0)


def test_p95_is_the_nearest_rank():
    assert _probe.percentile([100.0] * 9 + [2000.0], 0.95) == 2000.0
    assert _probe.percentile([100.0] * 19 + [2000.0], 0.95) == 100.0
    assert _probe.percentile([7.0], 0.95) == 7.0


# ----- the application's own error rate -------------------------------------------------------

def rate(value, status="ok"):
    return json.dumps({"status": status, "error_rate": value}).encode()


def test_a_reported_error_rate_above_the_limit_is_a_breach_at_once(clock):
    script = [*answers(1, body=rate(0.01)), *answers(1, body=rate(0.02)), *answers(1, body=rate(0.3)), *answers(9)]
    with ScriptedEndpoint(clock, script) as endpoint:
        verdict = watch(endpoint, clock, duration=20, interval=1, error_rate_field="error_rate")

    assert (verdict["breach"], verdict["polls"], verdict["failures"]) == ("reported_error_rate", 3, 0)
    assert verdict["reason"] == "the application reported error_rate 0.3, above 0.05"
    assert verdict["reported_error_rate"] == 0.3 and endpoint.requests == 3


def test_the_reported_limit_is_its_own_when_given_and_the_highest_is_returned(clock):
    script = answers(1, body=rate(0.3)) + answers(1, status=503, body=rate(0.45, "fail")) + answers(3, body=rate(0))
    with ScriptedEndpoint(clock, script) as endpoint:
        verdict = watch(endpoint, clock, duration=5, interval=1, error_rate_field="error_rate",
                        max_reported_error_rate=0.5, max_error_rate=0.25)

    assert verdict["healthy"] is True and verdict["reported_error_rate"] == 0.45 and verdict["failures"] == 1
    assert verdict["warnings"] == []


@pytest.mark.parametrize("body", [b"<html>ok</html>", b"", b'["error_rate", 0.9]', b'{"error_rate": "0.9"}',
                                  b'{"error_rate": true}', b'{"errors": 0.9}', b'{"error_rate": NaN}',
                                  b'{"status": "ok", "error_rate": '])
def test_an_answer_without_the_reported_number_is_unreported_not_failed(clock, body):
    # Decided: the status is the health verdict; the application's own rate is an extra reading, so
    # a proxy's page or a missing field does not roll a deploy back. A warning counts such answers.
    with ScriptedEndpoint(clock, answers(4, body=body) + answers(1, status=503, body=body)) as endpoint:
        verdict = watch(endpoint, clock, duration=5, interval=1, error_rate_field="error_rate", max_error_rate=0.2)

    assert (verdict["healthy"], verdict["failures"], verdict["reported_error_rate"]) == (True, 1, None)
    assert verdict["warnings"] == ["5 of 5 polls got an answer without a number in a top-level 'error_rate' of a "
                                   "JSON object body; they were judged by their status alone."]


def test_without_the_field_nothing_is_read_from_the_body(clock):
    with ScriptedEndpoint(clock, answers(5, body=rate(0.9))) as endpoint:
        verdict = watch(endpoint, clock, duration=5, interval=1)

    assert verdict["healthy"] is True and verdict["reported_error_rate"] is None and verdict["warnings"] == []


# ----- the action plugin -----------------------------------------------------------------------

@pytest.fixture
def fake_time(monkeypatch, clock):
    """The plugin's watch runs on the fake clock."""
    monkeypatch.setattr(http_watch, "watch_window",
                        functools.partial(_probe.watch_window, clock=clock, sleep=clock.sleep))
    return clock


@pytest.fixture
def log_lines(monkeypatch):
    """What the plugin prints through Display, line by line."""
    lines = []
    monkeypatch.setattr(http_watch.display, "display", lambda message, *args, **kwargs: lines.append(message))
    return lines


@pytest.mark.parametrize("args, complaint", [
    ({"url": "shop.example.com/api/health?token=sekrit"},
     "url must be an http(s) URL, not 'shop.example.com/api/health'."),
    ({"duration": 0}, "duration, interval and timeout must be more than 0."),
    ({"interval": -1}, "duration, interval and timeout must be more than 0."),
    ({"timeout": 0}, "duration, interval and timeout must be more than 0."),
    ({"status": []}, "status must name at least one healthy status."),
    ({"max_error_rate": 1.5}, "max_error_rate must be between 0 and 1."),
    ({"max_error_rate": -0.1}, "max_error_rate must be between 0 and 1."),
    ({"min_polls": 0}, "min_polls and max_consecutive_failures must be 1 or more."),
    ({"max_consecutive_failures": 0}, "min_polls and max_consecutive_failures must be 1 or more."),
    ({"max_response_ms": 0}, "max_response_ms must be more than 0."),
    ({"error_rate_field": ""}, "error_rate_field must name a field of the JSON body."),
    ({"max_reported_error_rate": 0.1}, "max_reported_error_rate needs error_rate_field"),
    ({"max_reported_error_rate": -1, "error_rate_field": "error_rate"}, "max_reported_error_rate must be 0 or more."),
    ({"duration": 60, "interval": 30}, "A window of 60 s polled every 30 s holds 2 polls, fewer than min_polls 5: "
                                       "the error rate would never be judged; poll more often or lower min_polls."),
    ({"ca_path": "/nonexistent/ca.pem"}, "ca_path /nonexistent/ca.pem is not a file"),
])
@pytest.mark.usefixtures("fake_time")
def test_bad_arguments_fail_before_any_request(clock, log_lines, args, complaint):
    with ScriptedEndpoint(clock, []) as endpoint:
        result = run(http_watch, {"url": endpoint.url, "duration": 10, "interval": 1, **args})

    assert result["failed"] is True and complaint in result["msg"] and result["changed"] is False
    assert endpoint.requests == 0 and log_lines == [] and "sekrit" not in result["_text"]


@pytest.mark.usefixtures("fake_time")
def test_every_bad_argument_is_named_in_one_message():
    result = run(http_watch, {"url": "ftp://x", "duration": -1, "max_error_rate": 2, "min_polls": 0})

    assert result["msg"] == ("url must be an http(s) URL, not 'ftp://x'. duration, interval and timeout must be more "
                             "than 0. max_error_rate must be between 0 and 1. min_polls and max_consecutive_failures "
                             "must be 1 or more.")


def test_a_missing_duration_is_refused_by_the_argument_spec(clock):
    with ScriptedEndpoint(clock, []) as endpoint:
        with pytest.raises(AnsibleActionFail, match="missing required arguments: duration"):
            run(http_watch, {"url": endpoint.url})
    assert endpoint.requests == 0


@pytest.mark.usefixtures("fake_time", "log_lines")
def test_a_breach_is_reported_as_data_without_fail_on_breach(clock):
    with ScriptedEndpoint(clock, answers(10, status=503)) as endpoint:
        result = run(http_watch, {"url": endpoint.url, "duration": 20, "interval": 2})

    assert "failed" not in result and result["changed"] is False
    assert (result["healthy"], result["breach"], result["polls"]) == (False, "consecutive_failures", 3)


@pytest.mark.usefixtures("fake_time", "log_lines")
def test_fail_on_breach_names_the_url_the_breach_and_the_numbers(clock):
    with ScriptedEndpoint(clock, answers(1) + answers(10, status=503, seconds=0.25)) as endpoint:
        result = run(http_watch, {"url": endpoint.url, "duration": 20, "interval": 2, "fail_on_breach": True})

    assert result["failed"] is True and result["changed"] is False
    assert result["msg"] == (f"The watch of {endpoint.url} saw a breach of consecutive_failures after 4 polls in "
                             "6.25 s: 3 failed polls in a row, the last: answered 503, expected one of 200.")
    assert (result["healthy"], result["failures"], len(result["timeline"])) == (False, 3, 4)


@pytest.mark.usefixtures("fake_time", "log_lines")
def test_the_result_has_every_documented_key_and_changes_nothing(clock):
    with ScriptedEndpoint(clock, answers(5)) as endpoint:
        result = run(http_watch, {"url": endpoint.url, "duration": 10, "interval": 2})

    assert set(result) - {"_text"} == {"changed", "healthy", "reason", "breach", "polls", "failures", "error_rate",
                                       "median_ms", "p95_ms", "worst_ms", "reported_error_rate", "watched_s",
                                       "stopped_early", "timeline"}
    assert result["changed"] is False and result["healthy"] is True


@pytest.mark.usefixtures("fake_time", "log_lines")
def test_check_mode_still_watches(clock):
    with ScriptedEndpoint(clock, answers(5)) as endpoint:
        result = run(http_watch, {"url": endpoint.url, "duration": 10, "interval": 2}, check=True)

    assert endpoint.requests == result["polls"] == 5 and result["healthy"] is True and result["changed"] is False


@pytest.mark.usefixtures("fake_time", "log_lines")
def test_an_unreported_answer_becomes_a_task_warning(clock):
    with ScriptedEndpoint(clock, answers(5, body=b"<html>maintenance</html>")) as endpoint:
        result = run(http_watch, {"url": endpoint.url, "duration": 10, "interval": 2, "error_rate_field": "errors"})

    assert result["healthy"] is True and result["warnings"] == [
        "5 of 5 polls got an answer without a number in a top-level 'errors' of a JSON object body; they were "
        "judged by their status alone."]


@pytest.mark.usefixtures("fake_time")
def test_each_poll_prints_one_short_line_without_body_or_secrets(clock, log_lines):
    body = b'{"status": "ok", "build": "body-marker-0001"}'
    with ScriptedEndpoint(clock, answers(2, body=body, seconds=0.143) + answers(3, status=503, body=body)) as endpoint:
        port = endpoint.server.server_address[1]
        url = f"http://watcher:s3cret-pw-0001@127.0.0.1:{port}/api/health?token=t0ken-0001#frag"
        result = run(http_watch, {"url": url, "duration": 20, "interval": 2, "max_consecutive_failures": 9,
                                  "max_error_rate": 0.5})

    shown = f"http://127.0.0.1:{port}/api/health"
    assert log_lines == [
        f"watch {shown} 1/10 (0 s of 20): 200 in 143 ms, error rate 0.0 % (0/1)",
        f"watch {shown} 2/10 (2 s of 20): 200 in 143 ms, error rate 0.0 % (0/2)",
        f"watch {shown} 3/10 (4 s of 20): answered 503, expected one of 200 in 0 ms, error rate 33.3 % (1/3)",
        f"watch {shown} 4/10 (6 s of 20): answered 503, expected one of 200 in 0 ms, error rate 50.0 % (2/4)",
        f"watch {shown} 5/10 (8 s of 20): answered 503, expected one of 200 in 0 ms, error rate 60.0 % (3/5)",
        f"watch {shown}: breach of error_rate at poll 5: error rate 60.0 % (3 of 5 polls failed), above 50 %",
    ]
    assert all(len(line) < 160 for line in log_lines)
    for secret in ("body-marker-0001", "s3cret-pw-0001", "t0ken-0001", "frag"):
        assert not any(secret in line for line in log_lines) and secret not in result["_text"]


def test_a_long_window_counts_in_minutes():
    poll = {"polls": 12, "expected": 60, "elapsed": 345.0, "status": 200, "ms": 143.2, "ok": True, "reason": "",
            "failures": 0, "error_rate": 0.0}

    line = http_watch.progress_line("https://shop.example.com/api/health", 1800, poll)

    assert line == ("watch https://shop.example.com/api/health 12/60 (6 min of 30): 200 in 143 ms, "
                    "error rate 0.0 % (0/12)")


def test_a_long_failure_reason_is_cut_in_the_log():
    poll = {"polls": 1, "expected": 5, "elapsed": 0.2, "status": None, "ms": 5000.0, "ok": False,
            "reason": "SSLCertVerificationError: " + "x" * 200, "failures": 1, "error_rate": 1.0}

    line = http_watch.progress_line("https://shop.example.com/api/health", 10, poll)

    assert len(line) < 160 and "SSLCertVerificationError: xxx" in line and "x" * 60 not in line
    assert "x… in 5000 ms" in line
