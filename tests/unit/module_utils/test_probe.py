"""wait_until_healthy against the health fake: verdicts as data, and a deadline that holds."""
import time

from ansible_collections.runbook.ops.plugins.module_utils._probe import wait_until_healthy


def health(fake):
    return fake.health_url + "/api/health"


def test_healthy_at_the_first_probe(fake):
    verdict = wait_until_healthy(health(fake), [200], wait=10)

    assert verdict["healthy"] is True and verdict["status"] == 200 and verdict["attempts"] == 1
    assert verdict["reason"] == ""


def test_unhealthy_until_the_deadline(fake, clock):
    fake.health.set_mode("fail")

    verdict = wait_until_healthy(health(fake), [200], wait=10, interval=2, clock=clock, sleep=clock.sleep)

    assert verdict["healthy"] is False and verdict["status"] == 503
    assert verdict["reason"] == "answered 503, expected one of 200"
    assert verdict["attempts"] == 5  # at 0, 2, 4, 6 and 8 s; the next would start at the deadline
    assert clock.sleeps == [2, 2, 2, 2]


def test_becomes_healthy_while_waiting(fake, clock):
    fake.health.add_faults([{"action": "status", "status": 502, "times": 2}])

    verdict = wait_until_healthy(health(fake), [200], wait=30, interval=1, clock=clock, sleep=clock.sleep)

    assert verdict["healthy"] is True and verdict["attempts"] == 3


def test_body_must_contain_the_text(fake):
    assert wait_until_healthy(health(fake), [200], body_contains='"ok"')["healthy"] is True

    verdict = wait_until_healthy(health(fake), [200], body_contains="all systems go")

    assert verdict["healthy"] is False and "without the text 'all systems go'" in verdict["reason"]


def test_no_answer_is_a_verdict_not_an_error():
    verdict = wait_until_healthy("http://127.0.0.1:9/api/health", [200])

    assert verdict["healthy"] is False and verdict["status"] is None
    assert "Connection refused" in verdict["reason"]


def test_a_hanging_endpoint_cannot_stretch_the_deadline(fake):
    fake.health.add_faults([{"action": "delay", "delay": 5, "times": 10}])

    started = time.monotonic()
    verdict = wait_until_healthy(health(fake), [200], wait=0.5, interval=0.2, timeout=30)

    assert verdict["healthy"] is False and "timed out" in verdict["reason"]
    assert time.monotonic() - started < 4  # far below the endpoint's 5 s hang and the 30 s timeout


def test_redirects_are_followed_to_the_final_answer(fake):
    # An old health path that now redirects: the answer at the end of the redirect is the verdict.
    fake.health.add_faults([{"action": "status", "status": 308,
                             "headers": {"Location": fake.health_url + "/api/health"}, "body": ""}])

    verdict = wait_until_healthy(fake.health_url + "/old-health", [200])

    assert verdict["healthy"] is True and verdict["status"] == 200
    assert [r["path"] for r in fake.health.requests()] == ["/old-health", "/api/health"]
