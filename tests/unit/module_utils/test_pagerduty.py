"""The PagerDuty clients against the PagerDuty fake, and the pure helpers beside them."""
import datetime

import pytest

from ansible_collections.runbook.ops.plugins.module_utils import _http
from ansible_collections.runbook.ops.plugins.module_utils._http import APIError
from ansible_collections.runbook.ops.plugins.module_utils._pagerduty import (
    PagerDutyEvents,
    PagerDutyREST,
    build_event,
    event_problems,
    iso_utc,
    latest_until,
    now_iso,
    read_events_error,
    read_rest_error,
    read_window,
    timestamp_problem,
)

ROUTING_KEY = "sandboxpagerdutyroutingkey000001"
TOKEN = "sandboxPagerDutyApiToken01"
INVALID = {"status": "invalid event", "message": "Event object is invalid",
           "errors": ["Length of 'routing_key' is incorrect (should be 32 characters)"]}


def trigger(dedup_key=None, summary="webapp is down"):
    return build_event("trigger", dedup_key=dedup_key, summary=summary, source="ops-controller",
                       severity="critical", timestamp=now_iso())


# ----- pure helpers ------------------------------------------------------------------------------

def test_build_event_trigger_carries_the_payload_and_drops_empty_fields():
    event = build_event("trigger", dedup_key="webapp/health", summary="down", source="ctl", severity="error",
                        timestamp="2026-05-01T00:00:00+00:00", event_class="http_probe", custom_details={"a": 1},
                        links=[{"href": "https://x.example", "text": None}], client="runbook", client_url=None)
    assert event == {
        "event_action": "trigger", "dedup_key": "webapp/health",
        "payload": {"summary": "down", "source": "ctl", "severity": "error", "timestamp": "2026-05-01T00:00:00+00:00",
                    "class": "http_probe", "custom_details": {"a": 1}},
        "client": "runbook", "links": [{"href": "https://x.example"}],
    }


@pytest.mark.parametrize("action", ["acknowledge", "resolve"])
def test_build_event_acknowledge_and_resolve_carry_only_the_key(action):
    assert build_event(action, dedup_key="k", summary="ignored", source="ctl", severity="error",
                       links=[{"href": "https://x.example"}]) == {"event_action": action, "dedup_key": "k"}


def test_build_event_change_has_no_action_key_or_severity():
    event = build_event("change", dedup_key="ignored", summary="deployed", source="ctl", severity="error",
                        component="ignored", timestamp="2026-05-01T00:00:00Z", links=[{"href": "https://x.example"}])
    assert event == {"payload": {"summary": "deployed", "source": "ctl", "timestamp": "2026-05-01T00:00:00Z"},
                     "links": [{"href": "https://x.example"}]}


def test_a_good_event_has_no_problems():
    assert event_problems(ROUTING_KEY, trigger("k")) == []
    assert event_problems(ROUTING_KEY, build_event("change", summary="deployed")) == []


@pytest.mark.parametrize("routing_key, event, expected", [
    ("short", build_event("resolve", dedup_key="k"), "The routing key has 5 characters"),
    ("R" + ROUTING_KEY[1:], build_event("change", summary="deployed"), "event ruleset key"),
    (ROUTING_KEY, build_event("resolve"), "dedup_key is required to resolve"),
    (ROUTING_KEY, build_event("acknowledge", dedup_key="k" * 256), "dedup_key has 256 characters"),
    (ROUTING_KEY, build_event("trigger", source="ctl", severity="error"), "summary is required for a trigger"),
    (ROUTING_KEY, build_event("change"), "summary is required for a change"),
    (ROUTING_KEY, build_event("trigger", summary="s", severity="error"), "source is required"),
    (ROUTING_KEY, build_event("trigger", summary="s", source="ctl", severity="fatal"), "severity must be one of"),
    (ROUTING_KEY, build_event("trigger", summary="s" * 1025, source="c", severity="info"), "more than 1024"),
    (ROUTING_KEY, build_event("change", summary="s", timestamp="2026-05-01T09:00:00"), "has no UTC offset"),
    (ROUTING_KEY, build_event("change", summary="s", links=[{"text": "no href"}]), "Every link needs an href"),
    (ROUTING_KEY, build_event("change", summary="s", custom_details={"log": "x" * 600_000}), "at most 524288"),
])
def test_event_problems(routing_key, event, expected):
    problems = event_problems(routing_key, event)
    assert len(problems) == 1 and expected in problems[0]
    assert ROUTING_KEY not in problems[0]


def test_a_ruleset_key_is_fine_for_alert_events():
    assert event_problems("R" + ROUTING_KEY[1:], trigger("k")) == []


@pytest.mark.parametrize("value, problem", [
    ("2026-05-01T09:30:00+09:00", None),
    ("2026-05-01T00:30:00Z", None),
    ("2026-05-01T00:30:00.123+00:00", None),
    ("2026-05-01T09:30:00", "no UTC offset"),
    ("yesterday", "not ISO 8601"),
])
def test_timestamp_problem(value, problem):
    found = timestamp_problem(value)
    assert (found is None) if problem is None else (problem in found)


def test_now_iso_is_utc_with_an_explicit_offset():
    stamp = datetime.datetime.fromisoformat(now_iso())
    assert stamp.utcoffset() == datetime.timedelta(0) and now_iso().endswith("+00:00")
    assert abs(stamp - datetime.datetime.now(datetime.timezone.utc)) < datetime.timedelta(minutes=1)


@pytest.mark.parametrize("body, expected", [
    (INVALID, ("invalid event", "Event object is invalid: Length of 'routing_key' is incorrect (should be 32 "
                                "characters)")),
    ({"status": "Unrecognized object", "message": "Event object format is unrecognized", "errors": []},
     ("Unrecognized object", "Event object format is unrecognized")),
    ("Too many requests", (None, "Too many requests")),
    ("", (None, None)),
])
def test_read_events_error(body, expected):
    assert read_events_error(body) == expected


@pytest.mark.parametrize("body, expected", [
    ({"error": {"message": "Invalid Input Provided", "code": 2001, "errors": ["Offset must be less than 10000"]}},
     ("2001", "Invalid Input Provided: Offset must be less than 10000")),
    ({"error": {"message": "Rate Limit Exceeded", "code": 2020}}, ("2020", "Rate Limit Exceeded")),
    ("<html>bad gateway</html>", (None, "<html>bad gateway</html>")),
])
def test_read_rest_error(body, expected):
    assert read_rest_error(body) == expected


# ----- Events API against the fake ---------------------------------------------------------------

def events(fake, clock=None, routing_key=ROUTING_KEY, **options):
    if clock is not None:
        options.update(sleep=clock.sleep, clock=clock)
    return PagerDutyEvents(routing_key, base_url=fake.pagerduty_url, **options)


def posts(fake):
    return [r for r in fake.pagerduty.requests() if r["method"] == "POST"]


def test_trigger_is_accepted_with_202_and_opens_one_alert(fake):
    answer = events(fake).send(trigger("webapp/health"))
    assert answer == {"status": "success", "message": "Event processed", "dedup_key": "webapp/health"}
    sent = posts(fake)
    assert [(r["path"], r["body"]["event_action"]) for r in sent] == [("/v2/enqueue", "trigger")]
    assert sent[0]["body"]["payload"]["severity"] == "critical"
    alerts = fake.pagerduty.state()["alerts"]
    assert [(a["dedup_key"], a["status"], a["service"]) for a in alerts] == [("webapp/health", "triggered", "PSBX001")]


def test_a_trigger_without_a_key_gets_the_key_pagerduty_made_up(fake):
    answer = events(fake).send(trigger())
    assert answer["dedup_key"] and answer["dedup_key"] == fake.pagerduty.state()["alerts"][0]["dedup_key"]
    assert "dedup_key" not in posts(fake)[0]["body"]


def test_acknowledge_and_resolve_act_on_the_open_alert(fake):
    client = events(fake)
    client.send(trigger("webapp/health"))
    assert client.send(build_event("acknowledge", dedup_key="webapp/health"))["status"] == "success"
    assert fake.pagerduty.state()["alerts"][0]["status"] == "acknowledged"
    client.send(build_event("resolve", dedup_key="webapp/health"))
    assert fake.pagerduty.state()["alerts"][0]["status"] == "resolved"
    assert [e["outcome"] for e in fake.pagerduty.events()] == ["created", "acknowledged", "resolved"]


def test_a_change_event_goes_to_its_own_path_and_has_no_key(fake):
    answer = events(fake).send(build_event("change", summary="Deployed webapp dpl_123", source="ctl",
                                           custom_details={"deployment": "dpl_123"}))
    assert answer == {"status": "success", "message": "Change event processed", "dedup_key": None}
    assert [r["path"] for r in posts(fake)] == ["/v2/change/enqueue"]
    changes = fake.pagerduty.state()["change_events"]
    assert [(c["summary"], c["custom_details"]) for c in changes] == [("Deployed webapp dpl_123",
                                                                       {"deployment": "dpl_123"})]
    assert fake.pagerduty.state()["alerts"] == []


def test_the_shown_body_masks_the_routing_key_and_the_sent_one_carries_it(fake):
    client = events(fake, routing_key=ROUTING_KEY + "\n")  # a key read from a file keeps its line break
    event = build_event("resolve", dedup_key="k")
    assert client.shown(event) == {"routing_key": "********", "event_action": "resolve", "dedup_key": "k"}
    assert client.body(event)["routing_key"] == ROUTING_KEY
    client.send(event)
    assert fake.pagerduty.events()[0]["integration"] == "PSBXIN1"


def test_a_400_reads_pagerdutys_errors_into_the_message(fake, clock):
    unknown_key = "x" * 32
    with pytest.raises(APIError) as caught:
        events(fake, clock, routing_key=unknown_key).send(trigger("k"))
    error = caught.value
    message = str(error)
    assert error.status == 400 and error.code == "invalid event"
    assert message.startswith(f"PagerDuty Events API: POST {fake.pagerduty_url}/v2/enqueue answered 400 "
                              "(invalid event: Event object is invalid: Invalid routing key).")
    assert "refused the event as invalid" in message
    assert unknown_key not in message and unknown_key not in repr(error.to_result())
    assert error.to_result()["api_error"] == {"code": "invalid event",
                                              "message": "Event object is invalid: Invalid routing key"}
    assert clock.sleeps == [] and len(posts(fake)) == 1


def test_an_error_that_quotes_the_routing_key_is_masked(fake, clock):
    echo = {"status": "invalid event", "message": "Event object is invalid",
            "errors": [f"Unknown routing_key {ROUTING_KEY}"]}
    fake.pagerduty.add_faults([{"path": "^/v2/enqueue$", "action": "status", "status": 400, "body": echo}])
    with pytest.raises(APIError) as caught:
        events(fake, clock).send(trigger("k"))
    assert "Unknown routing_key ********" in str(caught.value)
    assert ROUTING_KEY not in str(caught.value) and ROUTING_KEY not in repr(caught.value.to_result())


def test_429_with_retry_after_waits_that_long_and_sends_once_accepted(fake, clock):
    fake.pagerduty.add_faults([{"path": "^/v2/enqueue$", "action": "status", "status": 429,
                                "headers": {"Retry-After": "3"}, "times": 2}])
    # Even a trigger without a key is repeated: a 429 means PagerDuty did nothing with it.
    answer = events(fake, clock).send(trigger())
    assert answer["status"] == "success" and clock.sleeps == [3.0, 3.0]
    assert len(posts(fake)) == 3 and len(fake.pagerduty.state()["alerts"]) == 1


def test_429_without_retry_after_backs_off_on_its_own(fake, clock):
    fake.pagerduty.add_faults([{"path": "^/v2/change/enqueue$", "action": "status", "status": 429}])
    events(fake, clock).send(build_event("change", summary="deployed"))
    assert len(clock.sleeps) == 1 and 0 <= clock.sleeps[0] <= _http.BACKOFF_BASE * 2
    assert len(posts(fake)) == 2 and len(fake.pagerduty.state()["change_events"]) == 1


@pytest.mark.parametrize("fault", [
    {"action": "status", "status": 503},
    {"action": "status", "status": 502, "body": "<html>Bad Gateway</html>"},
    {"action": "reset"},
])
def test_a_keyed_event_is_repeated_after_an_ambiguous_failure(fake, clock, fault):
    client = events(fake, clock)
    client.send(trigger("webapp/health"))
    fake.pagerduty.add_faults([{"path": "^/v2/enqueue$", **fault}])
    assert client.send(build_event("resolve", dedup_key="webapp/health"))["status"] == "success"
    assert len(clock.sleeps) == 1 and len(posts(fake)) == 3
    assert fake.pagerduty.state()["alerts"][0]["status"] == "resolved"


def test_a_change_event_is_not_repeated_after_a_reset_connection(fake, clock):
    fake.pagerduty.add_faults([{"path": "^/v2/change/enqueue$", "action": "reset"}])
    with pytest.raises(APIError) as caught:
        events(fake, clock).send(build_event("change", summary="deployed"))
    message = str(caught.value)
    assert caught.value.status is None and "could not be reached" in message
    assert "may have received the event; it was not sent again" in message
    assert clock.sleeps == [] and len(posts(fake)) == 1


def test_a_trigger_without_a_key_is_not_repeated_after_a_503(fake, clock):
    fake.pagerduty.add_faults([{"path": "^/v2/enqueue$", "action": "status", "status": 503}])
    with pytest.raises(APIError) as caught:
        events(fake, clock).send(trigger())
    assert caught.value.status == 503 and "it was not sent again" in str(caught.value)
    assert clock.sleeps == [] and len(posts(fake)) == 1 and fake.pagerduty.state()["alerts"] == []


def test_a_keyed_event_that_keeps_failing_says_a_rerun_is_safe(fake, clock):
    fake.pagerduty.add_faults([{"path": "^/v2/enqueue$", "action": "status", "status": 503, "times": 50}])
    with pytest.raises(APIError) as caught:
        events(fake, clock, deadline=5).send(trigger("webapp/health"))
    message = str(caught.value)
    assert caught.value.status == 503 and "Gave up after" in message and "Running again is safe" in message


# ----- REST API against the fake -----------------------------------------------------------------

def rest(fake, clock=None, token=TOKEN, **options):
    if clock is not None:
        options.update(sleep=clock.sleep, clock=clock)
    return PagerDutyREST(token, base_url=fake.pagerduty_url, **options)


def load_incidents(fake, count, key="webapp/health"):
    """``count`` incidents with ``key``, alternating triggered, acknowledged and resolved."""
    state = fake.pagerduty.state()
    statuses = ["triggered", "acknowledged", "resolved"]
    for number in range(1, count + 1):
        stamp = f"2026-05-01T00:{number // 60 % 60:02d}:{number % 60:02d}Z"
        state["incidents"].append({
            "id": f"QSEED{number:04d}", "incident_number": number, "title": f"Incident {number}",
            "status": statuses[number % 3], "urgency": "high", "service": "PSBX001", "incident_key": key,
            "created_at": stamp, "updated_at": stamp, "last_status_change_at": stamp, "resolved_at": None})
    fake.pagerduty.load(state)


def test_incidents_follow_more_and_offset_over_several_pages(fake):
    load_incidents(fake, 230)
    found = rest(fake).incidents(incident_key="webapp/health")
    assert [i["incident_number"] for i in found] == list(range(1, 231))
    sent = fake.pagerduty.requests()
    assert [(r["query"]["offset"], r["query"]["limit"]) for r in sent] == [("0", "100"), ("100", "100"), ("200", "100")]
    assert all(r["query"]["date_range"] == "all" and r["query"]["incident_key"] == "webapp/health" for r in sent)
    assert all(r["authorized"] and r["headers"]["Accept"] == "application/vnd.pagerduty+json;version=2"
               for r in sent)


def test_incidents_filter_by_repeated_statuses_and_key(fake):
    load_incidents(fake, 12)
    state = fake.pagerduty.state()
    state["incidents"][0]["incident_key"] = "other"
    fake.pagerduty.load(state)
    found = rest(fake).incidents(incident_key="webapp/health", statuses=["triggered", "acknowledged"])
    assert {i["status"] for i in found} == {"triggered", "acknowledged"}
    # Number 1 has another key; every third from 2 on is resolved.
    assert sorted(i["incident_number"] for i in found) == [3, 4, 6, 7, 9, 10, 12]
    assert fake.pagerduty.requests()[0]["query_lists"]["statuses[]"] == ["triggered", "acknowledged"]


def test_incidents_see_the_alerts_events_opened(fake):
    events(fake).send(trigger("webapp/health"))
    found = rest(fake).incidents(incident_key="webapp/health", statuses=["triggered", "acknowledged"])
    assert [(i["status"], i["incident_key"], i["title"]) for i in found] == [
        ("triggered", "webapp/health", "webapp is down")]
    assert rest(fake).incidents(incident_key="nothing/else") == []


def test_a_wrong_token_is_a_401_that_names_the_variable_and_hides_the_token(fake, clock):
    with pytest.raises(APIError) as caught:
        rest(fake, clock, token="wrongPagerDutyToken99").incidents(incident_key="k")
    error = caught.value
    assert error.status == 401 and error.code == "2006"
    assert str(error).startswith(f"PagerDuty REST API: GET {fake.pagerduty_url}/incidents answered 401 "
                                 "(2006: Authentication failed).")
    assert "PAGERDUTY_API_TOKEN" in str(error)
    assert "wrongPagerDutyToken99" not in str(error) and "wrongPagerDutyToken99" not in repr(error.to_result())
    assert clock.sleeps == [] and len(fake.pagerduty.requests()) == 1


def test_a_rest_429_waits_for_the_rate_limit_reset(fake, clock):
    fake.pagerduty.add_faults([{"path": "^/incidents$", "action": "status", "status": 429,
                                "headers": {"ratelimit-reset": "7"}}])
    assert rest(fake, clock).incidents(incident_key="k") == []
    assert clock.sleeps == [7.0] and len(fake.pagerduty.requests()) == 2


def test_a_rest_answer_without_incidents_is_an_error(fake, clock):
    fake.pagerduty.add_faults([{"path": "^/incidents$", "action": "status", "status": 200, "body": {"users": []}}])
    with pytest.raises(APIError, match="the answer has no incidents list"):
        rest(fake, clock).incidents(incident_key="k")


# ----- REST API: incidents in a time window ------------------------------------------------------

UTC = datetime.timezone.utc


@pytest.mark.parametrize("since, until, expected", [
    ("2026-05-01T18:00:00+09:00", "2026-05-02T09:00:00+09:00",
     (datetime.datetime(2026, 5, 1, 9, tzinfo=UTC), datetime.datetime(2026, 5, 2, 0, tzinfo=UTC))),
    (" 2026-05-01T09:00:00Z\n", datetime.datetime(2026, 5, 1, 10, tzinfo=UTC),
     (datetime.datetime(2026, 5, 1, 9, tzinfo=UTC), datetime.datetime(2026, 5, 1, 10, tzinfo=UTC))),
    ("2026-01-31T00:00:00Z", "2026-07-31T00:00:00Z",
     (datetime.datetime(2026, 1, 31, tzinfo=UTC), datetime.datetime(2026, 7, 31, tzinfo=UTC))),
])
def test_read_window_takes_iso_text_or_datetimes(since, until, expected):
    assert read_window(since, until) == expected


def test_read_window_ends_now_without_until():
    now = datetime.datetime(2026, 5, 2, 0, 0, tzinfo=UTC)
    assert read_window("2026-05-01T00:00:00Z", None, now=now)[1] == now
    assert read_window("2026-05-01T00:00:00Z", " ", now=now)[1] == now


@pytest.mark.parametrize("since, until, expected", [
    ("last night", None, "since 'last night' is not an ISO 8601 time"),
    ("2026-05-01T00:00:00", None, "since '2026-05-01T00:00:00' has no UTC offset"),
    ("2026-05-01T00:00:00Z", "2026-05-02", "until '2026-05-02' has no UTC offset"),
    ("2026-05-01T00:00:00Z", "2026-04-30T23:59:59Z", "until (2026-04-30T23:59:59Z) must be later than since"),
    ("2026-05-01T00:00:00Z", "2026-05-01T09:00:00+09:00", "must be later than since"),
    ("2026-05-01T00:00:00Z", "2026-11-01T00:00:01Z", "spans 184.0 days; PagerDuty lists at most 6 months"),
    ("0001-01-01T00:00:00+05:00", "0001-02-01T00:00:00+05:00", "is not a time PagerDuty can hold incidents for"),
    ("9999-12-31T00:00:00Z", "9999-12-31T23:00:00-05:00", "since '9999-12-31T00:00:00Z' is not a time"),
])
def test_read_window_refuses_what_pagerduty_would(since, until, expected):
    now = datetime.datetime(2026, 5, 2, tzinfo=UTC)
    with pytest.raises(ValueError) as caught:
        read_window(since, until, now=now)
    assert expected in str(caught.value)


@pytest.mark.parametrize("since, latest", [
    ("2026-01-01T00:00:00Z", "2026-07-01T00:00:00Z"),  # 181 days
    ("2026-08-31T12:00:00Z", "2027-02-28T12:00:00Z"),  # no February 31st
    ("2027-08-31T00:00:00Z", "2028-02-29T00:00:00Z"),
    ("2026-07-01T00:00:00Z", "2026-12-31T00:00:00Z"),  # six calendar months are 184 days: 183 rule
])
def test_latest_until_is_six_months_but_never_past_183_days(since, latest):
    assert iso_utc(latest_until(datetime.datetime.fromisoformat(since))) == latest


def test_iso_utc_names_utc_with_z():
    assert iso_utc(datetime.datetime(2026, 5, 1, 18, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=9)))) == \
        "2026-05-01T09:00:00Z"


def test_incidents_between_sends_the_window_and_filters(fake):
    load_incidents(fake, 5)
    listing = rest(fake).incidents_between("2026-05-01T09:00:02+09:00", "2026-05-01T00:00:05Z",
                                           statuses=["triggered", "resolved"], urgencies=["high"],
                                           service_ids=["PSBX001"])
    # Numbers 2 to 4 are in the window; 2 is resolved, 3 triggered and 4 acknowledged.
    assert [i["incident_number"] for i in listing["incidents"]] == [2, 3]
    assert (listing["truncated"], listing["since"], listing["until"]) == (
        False, "2026-05-01T00:00:02Z", "2026-05-01T00:00:05Z")
    sent = fake.pagerduty.requests()[0]
    assert sent["query_lists"]["statuses[]"] == ["triggered", "resolved"]
    assert sent["query_lists"]["urgencies[]"] == ["high"] and sent["query_lists"]["service_ids[]"] == ["PSBX001"]
    assert (sent["query"]["since"], sent["query"]["time_zone"], sent["query"]["sort_by"]) == (
        "2026-05-01T00:00:02Z", "UTC", "created_at:asc")
    assert "date_range" not in sent["query"]


@pytest.mark.parametrize("window, filters, expected", [
    (("2026-01-01T00:00:00Z", "2026-12-01T00:00:00Z"), {}, "PagerDuty lists at most 6 months"),
    (("2026-05-01T00:00:00Z", "2026-05-02T00:00:00Z"), {"statuses": ["open"]}, "Unknown statuses or urgencies: open"),
    (("2026-05-01T00:00:00Z", "2026-05-02T00:00:00Z"), {"urgencies": ["urgent"]}, "urgencies: urgent"),
])
def test_incidents_between_refuses_before_any_request(fake, window, filters, expected):
    with pytest.raises(ValueError, match=expected):
        rest(fake).incidents_between(*window, **filters)
    assert fake.pagerduty.requests() == []


def test_incidents_between_waits_out_a_429_with_retry_after(fake, clock):
    load_incidents(fake, 3)
    fake.pagerduty.add_faults([{"path": "^/incidents$", "action": "status", "status": 429,
                                "headers": {"Retry-After": "3"}, "times": 2}])
    listing = rest(fake, clock).incidents_between("2026-05-01T00:00:00Z", "2026-05-02T00:00:00Z")
    assert [i["incident_number"] for i in listing["incidents"]] == [1, 2, 3]
    assert clock.sleeps == [3.0, 3.0] and len(fake.pagerduty.requests()) == 3


def test_a_listing_stops_at_the_paging_end_and_says_it_was_cut_short(fake):
    page = {"incidents": [{"id": "QMANY"}] * 100, "limit": 100, "offset": 0, "more": True, "total": None}
    fake.pagerduty.add_faults([{"path": "^/incidents$", "action": "status", "status": 200, "body": page,
                                "times": 200}])
    listing = rest(fake).listing({"date_range": "all"})
    assert listing["truncated"] is True and len(listing["incidents"]) == 10000
    # The last page asked for ends exactly at 10000, which PagerDuty still serves.
    last = fake.pagerduty.requests()[-1]["query"]
    assert int(last["offset"]) + int(last["limit"]) == 10000


def test_an_empty_page_that_claims_more_ends_the_listing_without_truncation(fake):
    page = {"incidents": [], "limit": 100, "offset": 0, "more": True, "total": None}
    fake.pagerduty.add_faults([{"path": "^/incidents$", "action": "status", "status": 200, "body": page}])
    assert rest(fake).listing({"date_range": "all"}) == {"incidents": [], "truncated": False}
    assert len(fake.pagerduty.requests()) == 1


def test_incidents_still_returns_a_plain_list(fake):
    load_incidents(fake, 2)
    assert [i["incident_number"] for i in rest(fake).incidents(incident_key="webapp/health")] == [1, 2]
