"""pagerduty_event's real main(), run in-process against the PagerDuty fake, the JSON result read from stdout."""
import datetime
import socket

import pytest

from ansible_collections.runbook.ops.plugins.modules import pagerduty_event

ROUTING_KEY = "sandboxpagerdutyroutingkey000001"
RULESET_KEY = "Rsandboxrulesetroutingkey0000001"
TOKEN = "sandboxPagerDutyApiToken01"
KEY = "webapp/production/health"


@pytest.fixture(autouse=True)
def no_pagerduty_environment(monkeypatch):
    # A developer's own PAGERDUTY_* variables must not leak into these runs.
    for name in ("PAGERDUTY_ROUTING_KEY", "PAGERDUTY_EVENTS_URL", "PAGERDUTY_API_TOKEN", "PAGERDUTY_API_URL"):
        monkeypatch.delenv(name, raising=False)


def pd_args(fake, token=True, **args):
    base = {"routing_key": ROUTING_KEY, "events_url": fake.pagerduty_url, "api_url": fake.pagerduty_url,
            "deadline": 5}
    if token:
        base["api_token"] = TOKEN
    return {**base, **args}


def trigger_args(fake, token=True, **args):
    return pd_args(fake, token, **{"event_action": "trigger", "dedup_key": KEY,
                                   "summary": "webapp health check failed", **args})


def posts(fake):
    return [r for r in fake.pagerduty.requests() if r["method"] == "POST"]


def alerts(fake):
    return [(a["dedup_key"], a["status"]) for a in fake.pagerduty.state()["alerts"]]


def warnings(result):
    """The warnings' texts, whether ansible-core gives them as strings or as structured events."""
    return [w["event"]["msg"] if isinstance(w, dict) else w for w in result.get("warnings", [])]


def no_secrets(result):
    return ROUTING_KEY not in result["_stdout"] and TOKEN not in result["_stdout"]


def test_trigger_acknowledge_resolve_with_a_token(fake, run):
    triggered = run(pagerduty_event, trigger_args(fake, severity="critical", component="webapp",
                                                  custom_details={"status": 503},
                                                  links=[{"href": "https://shop.example.com/api/health"}]))
    assert (triggered["changed"], triggered["sent"], triggered["dedup_key"]) == (True, True, KEY)
    assert triggered["response"] == {"status": "success", "message": "Event processed"}
    assert triggered["incident"] is None and alerts(fake) == [(KEY, "triggered")]
    payload = fake.pagerduty.state()["alerts"][0]["payload"]
    assert payload["severity"] == "critical" and payload["component"] == "webapp"
    assert payload["custom_details"] == {"status": 503}
    assert payload["source"] == socket.gethostname()

    acknowledged = run(pagerduty_event, pd_args(fake, event_action="acknowledge", dedup_key=KEY))
    assert acknowledged["changed"] is True and acknowledged["sent"] is True
    assert acknowledged["incident"]["status"] == "triggered" and acknowledged["incident"]["incident_number"] == 1
    assert alerts(fake) == [(KEY, "acknowledged")]

    resolved = run(pagerduty_event, pd_args(fake, event_action="resolve", dedup_key=KEY))
    assert resolved["changed"] is True and resolved["incident"]["status"] == "acknowledged"
    assert resolved["request"] == {"routing_key": "********", "event_action": "resolve", "dedup_key": KEY}
    assert alerts(fake) == [(KEY, "resolved")]
    assert [e["outcome"] for e in fake.pagerduty.events()] == ["created", "acknowledged", "resolved"]
    assert all(no_secrets(result) for result in (triggered, acknowledged, resolved))


def test_a_second_trigger_with_a_token_sends_nothing(fake, run):
    run(pagerduty_event, trigger_args(fake))
    again = run(pagerduty_event, trigger_args(fake))
    assert (again["changed"], again["sent"], again["response"]) == (False, False, None)
    incident = fake.pagerduty.state()["incidents"][0]
    assert again["incident"] == {"id": incident["id"], "incident_number": 1, "status": "triggered",
                                 "html_url": f"https://acme-sandbox.pagerduty.com/incidents/{incident['id']}",
                                 "title": "webapp health check failed"}
    assert len(posts(fake)) == 1 and len(fake.pagerduty.events()) == 1
    lookup = [r for r in fake.pagerduty.requests() if r["path"] == "/incidents"][-1]
    assert lookup["query"]["incident_key"] == KEY and lookup["query"]["date_range"] == "all"
    assert lookup["query_lists"]["statuses[]"] == ["triggered", "acknowledged"]


def test_resolve_twice_sends_once(fake, run):
    run(pagerduty_event, trigger_args(fake))
    first = run(pagerduty_event, pd_args(fake, event_action="resolve", dedup_key=KEY))
    second = run(pagerduty_event, pd_args(fake, event_action="resolve", dedup_key=KEY))
    assert (first["changed"], first["sent"]) == (True, True)
    assert (second["changed"], second["sent"], second["incident"]) == (False, False, None)
    assert [r["body"]["event_action"] for r in posts(fake)] == ["trigger", "resolve"]


def test_acknowledge_sends_nothing_when_acknowledged_already_or_nothing_is_open(fake, run):
    nothing_open = run(pagerduty_event, pd_args(fake, event_action="acknowledge", dedup_key=KEY))
    assert (nothing_open["changed"], nothing_open["sent"]) == (False, False) and posts(fake) == []
    run(pagerduty_event, trigger_args(fake))
    run(pagerduty_event, pd_args(fake, event_action="acknowledge", dedup_key=KEY))
    again = run(pagerduty_event, pd_args(fake, event_action="acknowledge", dedup_key=KEY))
    assert (again["changed"], again["sent"]) == (False, False)
    assert again["incident"]["status"] == "acknowledged"
    assert [r["body"]["event_action"] for r in posts(fake)] == ["trigger", "acknowledge"]


def test_a_trigger_after_a_resolve_opens_a_new_alert(fake, run):
    run(pagerduty_event, trigger_args(fake))
    run(pagerduty_event, pd_args(fake, event_action="resolve", dedup_key=KEY))
    again = run(pagerduty_event, trigger_args(fake))
    assert again["changed"] is True and again["sent"] is True
    assert alerts(fake) == [(KEY, "resolved"), (KEY, "triggered")]


def test_without_a_token_every_trigger_is_sent_and_pagerduty_keeps_one_alert(fake, run):
    first = run(pagerduty_event, trigger_args(fake, token=False))
    second = run(pagerduty_event, trigger_args(fake, token=False))
    assert (first["changed"], second["changed"], second["sent"]) == (True, True, True)
    assert second["incident"] is None
    assert [r["path"] for r in fake.pagerduty.requests()] == ["/v2/enqueue", "/v2/enqueue"]
    assert alerts(fake) == [(KEY, "triggered")]
    assert [e["outcome"] for e in fake.pagerduty.events()] == ["created", "deduplicated"]


def test_an_empty_token_variable_means_no_lookup(fake, run, monkeypatch):
    monkeypatch.setenv("PAGERDUTY_API_TOKEN", "")
    monkeypatch.setenv("PAGERDUTY_ROUTING_KEY", ROUTING_KEY)
    monkeypatch.setenv("PAGERDUTY_EVENTS_URL", fake.pagerduty_url)
    result = run(pagerduty_event, {"event_action": "resolve", "dedup_key": KEY})
    assert result["changed"] is True and result["sent"] is True and result["incident"] is None
    assert [r["path"] for r in fake.pagerduty.requests()] == ["/v2/enqueue"]
    assert fake.pagerduty.events()[0]["outcome"] == "dropped"
    assert no_secrets(result)


def test_routing_key_token_and_urls_come_from_the_environment(fake, run, monkeypatch):
    monkeypatch.setenv("PAGERDUTY_ROUTING_KEY", ROUTING_KEY)
    monkeypatch.setenv("PAGERDUTY_EVENTS_URL", fake.pagerduty_url)
    monkeypatch.setenv("PAGERDUTY_API_TOKEN", TOKEN)
    monkeypatch.setenv("PAGERDUTY_API_URL", fake.pagerduty_url)
    args = {"event_action": "trigger", "dedup_key": KEY, "summary": "down"}
    assert run(pagerduty_event, args)["sent"] is True
    again = run(pagerduty_event, args)
    assert again["sent"] is False and again["incident"]["status"] == "triggered"
    assert [r["path"] for r in fake.pagerduty.requests()] == ["/incidents", "/v2/enqueue", "/incidents"]
    assert no_secrets(again)


def test_a_trigger_without_a_key_returns_pagerdutys_key(fake, run):
    args = trigger_args(fake)
    del args["dedup_key"]
    result = run(pagerduty_event, args)
    made_up = fake.pagerduty.state()["alerts"][0]["dedup_key"]
    assert result["sent"] is True and result["dedup_key"] == made_up
    # No key, nothing to look up.
    assert [r["path"] for r in fake.pagerduty.requests()] == ["/v2/enqueue"]


def test_a_change_event_is_always_sent(fake, run):
    args = pd_args(fake, event_action="change", summary="Rolled back webapp to dpl_123", dedup_key=KEY,
                   severity="critical", custom_details={"to": "dpl_123"})
    first = run(pagerduty_event, args)
    second = run(pagerduty_event, args, own_process=True)
    assert (first["changed"], second["changed"], second["sent"]) == (True, True, True)
    assert second["dedup_key"] is None and second["incident"] is None
    assert second["response"] == {"status": "success", "message": "Change event processed"}
    assert "Change events do not carry dedup_key; ignored." in warnings(second)
    assert [r["path"] for r in fake.pagerduty.requests()] == ["/v2/change/enqueue"] * 2
    assert [c["custom_details"] for c in fake.pagerduty.state()["change_events"]] == [{"to": "dpl_123"}] * 2
    assert fake.pagerduty.state()["alerts"] == []


def test_check_mode_sends_nothing_and_masks_the_key(fake, run):
    result = run(pagerduty_event, trigger_args(fake, component="webapp"), check=True)
    assert (result["changed"], result["sent"], result["response"]) == (True, False, None)
    request = result["request"]
    assert request["routing_key"] == "********" and request["event_action"] == "trigger"
    assert request["dedup_key"] == KEY and request["payload"]["component"] == "webapp"
    assert request["payload"]["summary"] == "webapp health check failed"
    assert posts(fake) == [] and fake.pagerduty.state()["alerts"] == []
    assert no_secrets(result)


def test_check_mode_predicts_no_change_from_the_lookup(fake, run):
    run(pagerduty_event, trigger_args(fake))
    result = run(pagerduty_event, pd_args(fake, event_action="resolve", dedup_key=KEY), check=True)
    assert (result["changed"], result["sent"]) == (True, False)
    assert result["incident"]["status"] == "triggered"
    assert len(posts(fake)) == 1 and alerts(fake) == [(KEY, "triggered")]


def test_the_default_timestamp_is_utc_with_an_offset(fake, run):
    result = run(pagerduty_event, trigger_args(fake), check=True)
    stamp = datetime.datetime.fromisoformat(result["request"]["payload"]["timestamp"])
    assert stamp.utcoffset() == datetime.timedelta(0)


def test_a_long_summary_is_cut_with_a_warning(fake, run):
    result = run(pagerduty_event, trigger_args(fake, summary="x" * 1500), own_process=True)
    assert result["sent"] is True and len(fake.pagerduty.state()["alerts"][0]["summary"]) == 1024
    assert any("summary has 1500 characters" in warning for warning in warnings(result))


@pytest.mark.parametrize("args, expected", [
    ({"routing_key": "tooshort"}, "The routing key has 8 characters"),
    ({"summary": None}, "summary is required for a trigger event"),
    ({"summary": "  "}, "summary is required for a trigger event"),
    ({"dedup_key": "k" * 256}, "dedup_key has 256 characters"),
    ({"timestamp": "2026-05-01 09:30:00"}, "has no UTC offset"),
    ({"custom_details": {"log": "x" * 600_000}}, "PagerDuty takes at most 524288"),
    ({"event_action": "change", "routing_key": RULESET_KEY}, "event ruleset key"),
    ({"event_action": "resolve", "dedup_key": ""}, "dedup_key is required to resolve an alert"),
    ({"routing_key": None}, "No PagerDuty routing key"),
    ({"events_url": "events.pagerduty.com"}, "must start with https://"),
])
def test_bad_input_fails_before_any_request(fake, run, args, expected):
    result = run(pagerduty_event, trigger_args(fake, **args))
    assert result["failed"] is True and expected in result["msg"]
    assert fake.pagerduty.requests() == []
    assert no_secrets(result) and RULESET_KEY not in result["_stdout"]


@pytest.mark.parametrize("action, missing", [("trigger", "summary"), ("change", "summary"),
                                             ("acknowledge", "dedup_key"), ("resolve", "dedup_key")])
def test_required_options_per_action(fake, run, action, missing):
    args = trigger_args(fake, event_action=action)
    del args[missing]
    result = run(pagerduty_event, args)
    assert result["failed"] is True
    assert f"event_action is {action} but all of the following are missing: {missing}" in result["msg"]
    assert fake.pagerduty.requests() == [] and no_secrets(result)


def test_a_refused_event_fails_with_pagerdutys_errors_and_no_secret(fake, run):
    refused = {"status": "invalid event", "message": "Event object is invalid",
               "errors": ["'payload.source' is missing or blank"]}
    fake.pagerduty.add_faults([{"path": "^/v2/enqueue$", "action": "status", "status": 400, "body": refused}])
    result = run(pagerduty_event, trigger_args(fake))
    assert result["failed"] is True and result["sent"] is False
    assert result["msg"].startswith(f"PagerDuty Events API: POST {fake.pagerduty_url}/v2/enqueue answered 400 "
                                    "(invalid event: Event object is invalid: 'payload.source' is missing or blank).")
    assert "refused the event as invalid" in result["msg"]
    assert (result["status"], result["method"], result["path"]) == (400, "POST", "/v2/enqueue")
    assert result["request"]["routing_key"] == "********"
    assert no_secrets(result)


def test_a_change_event_is_not_repeated_after_a_reset_and_says_so(fake, run):
    fake.pagerduty.add_faults([{"path": "^/v2/change/enqueue$", "action": "reset"}])
    result = run(pagerduty_event, pd_args(fake, event_action="change", summary="deployed"))
    assert result["failed"] is True and "it was not sent again" in result["msg"]
    assert len(posts(fake)) == 1 and no_secrets(result)


def test_a_failed_lookup_is_a_warning_and_the_event_is_sent(fake, run):
    result = run(pagerduty_event, trigger_args(fake, api_token="wrongPagerDutyToken99"), own_process=True)
    assert result["sent"] is True and result["changed"] is True and result["incident"] is None
    warning = next(w for w in warnings(result) if "Could not look up the alert" in w)
    assert "answered 401" in warning and "PAGERDUTY_API_TOKEN" in warning
    assert alerts(fake) == [(KEY, "triggered")]
    assert "wrongPagerDutyToken99" not in result["_stdout"] and no_secrets(result)


def test_fields_an_acknowledge_cannot_carry_are_warned_about(fake, run):
    run(pagerduty_event, trigger_args(fake))
    result = run(pagerduty_event, pd_args(fake, event_action="acknowledge", dedup_key=KEY, summary="on it",
                                          component="webapp"), own_process=True)
    assert "Acknowledge events do not carry summary, component; ignored." in warnings(result)
    assert posts(fake)[-1]["body"] == {"routing_key": "<redacted>", "event_action": "acknowledge", "dedup_key": KEY}
