"""pagerduty_incident_info's real main(), run in-process against the PagerDuty fake, the JSON result read from
stdout."""
import datetime

import pytest

from ansible_collections.runbook.ops.plugins.modules import pagerduty_incident_info

TOKEN = "sandboxPagerDutyApiToken01"
WRONG_TOKEN = "wrongPagerDutyToken99"
# 18:00 in Tokyo to 09:00 the next morning: the evening check to the morning check.
SINCE, UNTIL = "2026-05-01T18:00:00+09:00", "2026-05-02T09:00:00+09:00"
SINCE_UTC, UNTIL_UTC = "2026-05-01T09:00:00Z", "2026-05-02T00:00:00Z"


@pytest.fixture(autouse=True)
def no_pagerduty_environment(monkeypatch):
    # A developer's own PAGERDUTY_* variables must not leak into these runs.
    for name in ("PAGERDUTY_ROUTING_KEY", "PAGERDUTY_EVENTS_URL", "PAGERDUTY_API_TOKEN", "PAGERDUTY_API_URL"):
        monkeypatch.delenv(name, raising=False)


def info_args(fake, **args):
    return {"api_token": TOKEN, "api_url": fake.pagerduty_url, "since": SINCE, "until": UNTIL, "deadline": 5, **args}


def seed(fake, *incidents):
    """Replace the fake's incidents with ``incidents``, each a dict of fields over a triggered, high-urgency
    incident of webapp; a second service, billing (PSBX002), is there to filter on."""
    state = fake.pagerduty.state()
    state["services"].append({"id": "PSBX002", "name": "billing", "teams": []})
    state["incidents"] = []
    for number, fields in enumerate(incidents, start=1):
        created = fields.get("created_at", "2026-05-01T12:00:00Z")
        state["incidents"].append({
            "id": f"QSEED{number:05d}", "incident_number": number, "title": f"Incident {number}",
            "status": "triggered", "urgency": "high", "service": "PSBX001", "incident_key": f"webapp/{number}",
            "created_at": created, "updated_at": created, "last_status_change_at": created, "resolved_at": None,
            **fields})
    state["incident_count"] = len(incidents)
    fake.pagerduty.load(state)


def listings(fake):
    return [r for r in fake.pagerduty.requests() if r["path"] == "/incidents"]


def numbers(result):
    return [incident["incident_number"] for incident in result["incidents"]]


def warnings(result):
    """The warnings' texts, whether ansible-core gives them as strings or as structured events."""
    return [w["event"]["msg"] if isinstance(w, dict) else w for w in result.get("warnings", [])]


def no_secrets(result):
    return TOKEN not in result["_stdout"] and WRONG_TOKEN not in result["_stdout"]


def test_lists_the_incidents_created_in_the_window_with_their_summary_and_counts(fake, run):
    seed(fake,
         {"created_at": "2026-05-01T08:59:59Z"},  # a second before the window
         {"created_at": SINCE_UTC, "status": "resolved", "resolved_at": "2026-05-01T09:38:36Z", "priority": "P1"},
         {"created_at": "2026-05-01T15:30:00Z", "status": "acknowledged", "urgency": "low", "service": "PSBX002"},
         {"created_at": "2026-05-01T23:59:59Z"},
         {"created_at": UNTIL_UTC})  # the end of the window is not in it
    result = run(pagerduty_incident_info, info_args(fake))
    assert result["changed"] is False and "failed" not in result
    assert numbers(result) == [2, 3, 4]
    assert (result["since"], result["until"], result["truncated"]) == (SINCE_UTC, UNTIL_UTC, False)
    assert result["incidents"][0] == {
        "id": "QSEED00002", "incident_number": 2, "title": "Incident 2", "status": "resolved", "urgency": "high",
        "priority": "P1", "service": "webapp", "service_id": "PSBX001", "created_at": SINCE_UTC,
        "resolved_at": "2026-05-01T09:38:36Z",
        "html_url": "https://acme-sandbox.pagerduty.com/incidents/QSEED00002", "incident_key": "webapp/2",
        "minutes_to_resolve": 38.6}
    assert [(i["service"], i["priority"], i["minutes_to_resolve"]) for i in result["incidents"][1:]] == [
        ("billing", None, None), ("webapp", None, None)]
    assert result["counts"] == {"total": 3, "by_status": {"triggered": 1, "acknowledged": 1, "resolved": 1},
                                "by_urgency": {"high": 2, "low": 1}, "by_priority": {"P1": 1, "none": 2}}

    sent = listings(fake)
    assert len(sent) == 1 and sent[0]["authorized"]
    assert {name: sent[0]["query"][name] for name in ("since", "until", "time_zone", "sort_by", "limit", "offset")} == {
        "since": SINCE_UTC, "until": UNTIL_UTC, "time_zone": "UTC", "sort_by": "created_at:asc", "limit": "100",
        "offset": "0"}
    assert "date_range" not in sent[0]["query"] and "statuses[]" not in sent[0]["query"]
    assert no_secrets(result)


def test_an_empty_window_lists_nothing_and_counts_zeros(fake, run):
    seed(fake, {"created_at": "2026-04-01T00:00:00Z"})
    result = run(pagerduty_incident_info, info_args(fake))
    assert result["incidents"] == [] and result["truncated"] is False
    assert result["counts"] == {"total": 0, "by_status": {"triggered": 0, "acknowledged": 0, "resolved": 0},
                                "by_urgency": {"high": 0, "low": 0}, "by_priority": {}}


def stamp(moment):
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def test_until_defaults_to_now(fake, run):
    now = datetime.datetime.now(datetime.timezone.utc)
    seed(fake, {"created_at": stamp(now - datetime.timedelta(hours=2))},
         {"created_at": stamp(now - datetime.timedelta(minutes=30))},
         {"created_at": stamp(now + datetime.timedelta(hours=1))})  # a clock ahead somewhere: not yet
    args = info_args(fake, since=stamp(now - datetime.timedelta(hours=1)))
    del args["until"]
    result = run(pagerduty_incident_info, args)
    assert numbers(result) == [2]
    until = datetime.datetime.fromisoformat(result["until"])
    assert now.replace(microsecond=0) <= until <= datetime.datetime.now(datetime.timezone.utc)
    assert until.microsecond == 0
    assert listings(fake)[0]["query"]["until"] == result["until"]


def test_reads_page_after_page_past_one_hundred(fake, run):
    seed(fake, *({"created_at": f"2026-05-01T{10 + number // 60:02d}:{number % 60:02d}:00Z"}
                 for number in range(250)))
    result = run(pagerduty_incident_info, info_args(fake))
    assert numbers(result) == list(range(1, 251)) and result["truncated"] is False
    assert result["counts"]["total"] == 250
    assert [(r["query"]["offset"], r["query"]["limit"]) for r in listings(fake)] == [
        ("0", "100"), ("100", "100"), ("200", "100")]
    assert all(r["query"]["since"] == SINCE_UTC for r in listings(fake))


def test_statuses_and_urgencies_reach_pagerduty_as_repeated_parameters(fake, run):
    seed(fake, {"status": "triggered"}, {"status": "acknowledged"}, {"status": "resolved"},
         {"status": "triggered", "urgency": "low"}, {"status": "acknowledged", "urgency": "low"})
    result = run(pagerduty_incident_info, info_args(fake, statuses=["triggered", "acknowledged"], urgencies=["high"]))
    assert numbers(result) == [1, 2]
    assert result["counts"]["by_status"] == {"triggered": 1, "acknowledged": 1, "resolved": 0}
    sent = listings(fake)[0]
    assert sent["query_lists"]["statuses[]"] == ["triggered", "acknowledged"]
    assert sent["query_lists"]["urgencies[]"] == ["high"]


def test_service_ids_reach_pagerduty_and_filter(fake, run):
    seed(fake, {"service": "PSBX001"}, {"service": "PSBX002"}, {"service": "PSBX001"})
    result = run(pagerduty_incident_info, info_args(fake, service_ids=["PSBX002"]))
    assert numbers(result) == [2] and result["incidents"][0]["service"] == "billing"
    assert listings(fake)[0]["query_lists"]["service_ids[]"] == ["PSBX002"]


def test_check_mode_reads_the_same_and_a_rerun_gives_the_same(fake, run):
    seed(fake, {"status": "resolved", "resolved_at": "2026-05-01T12:10:00Z"}, {})
    checked = run(pagerduty_incident_info, info_args(fake), check=True)
    first = run(pagerduty_incident_info, info_args(fake))
    second = run(pagerduty_incident_info, info_args(fake))
    assert checked["changed"] is first["changed"] is second["changed"] is False
    assert checked["incidents"] == first["incidents"] == second["incidents"]
    assert checked["incidents"][0]["minutes_to_resolve"] == 10.0
    assert len(listings(fake)) == 3 and fake.pagerduty.state()["incidents"][1]["status"] == "triggered"


def test_token_and_url_come_from_the_environment(fake, run, monkeypatch):
    monkeypatch.setenv("PAGERDUTY_API_TOKEN", TOKEN + "\n")  # a token read from a file keeps its line break
    monkeypatch.setenv("PAGERDUTY_API_URL", fake.pagerduty_url)
    seed(fake, {})
    result = run(pagerduty_incident_info, {"since": SINCE, "until": UNTIL})
    assert numbers(result) == [1] and listings(fake)[0]["authorized"]
    assert no_secrets(result)


def test_a_listing_cut_short_at_ten_thousand_says_so_and_warns(fake, run):
    # Every page claims more: PagerDuty would refuse the page past offset + limit = 10000.
    page = {"incidents": [{"id": "QMANY", "incident_number": 1, "status": "triggered", "urgency": "high"}] * 100,
            "limit": 100, "offset": 0, "more": True, "total": None}
    fake.pagerduty.add_faults([{"path": "^/incidents$", "action": "status", "status": 200, "body": page,
                                "times": 200}])
    result = run(pagerduty_incident_info, info_args(fake), own_process=True)
    assert result["truncated"] is True and result["counts"]["total"] == 10000
    offsets = [int(r["query"]["offset"]) for r in listings(fake)]
    assert offsets == list(range(0, 10000, 100))
    assert any("at most 10000 incidents" in warning and "Narrow the window" in warning
               for warning in warnings(result))


# ----- refused before any request ------------------------------------------------------------------

@pytest.mark.parametrize("args, expected", [
    ({"since": "yesterday evening"}, "since 'yesterday evening' is not an ISO 8601 time"),
    ({"since": "2026-05-01T18:00:00"}, "since '2026-05-01T18:00:00' has no UTC offset"),
    ({"since": "2026-05-01"}, "has no UTC offset"),
    ({"until": "2026-05-02 09:00"}, "until '2026-05-02 09:00' has no UTC offset"),
    ({"until": "2026-13-01T00:00:00Z"}, "until '2026-13-01T00:00:00Z' is not an ISO 8601 time"),
    ({"until": "2026-05-01T08:00:00Z"}, "until (2026-05-01T08:00:00Z) must be later than since (2026-05-01T09:00:00Z)"),
    ({"until": SINCE_UTC}, "must be later than since"),
    ({"since": "2026-01-01T00:00:00Z", "until": "2026-07-01T00:00:01Z"},
     "PagerDuty lists at most 6 months at a time, so until may be at most 2026-07-01T00:00:00Z"),
    # Six calendar months from July 1 are 184 days; PagerDuty's own count is not published, so 183 days rule.
    ({"since": "2026-07-01T00:00:00Z", "until": "2027-01-01T00:00:00Z"}, "until may be at most 2026-12-31T00:00:00Z"),
    ({"statuses": ["open"]}, "value of statuses must be one or more of: triggered, acknowledged, resolved"),
    ({"urgencies": ["urgent"]}, "value of urgencies must be one or more of: high, low"),
    ({"api_token": None}, "No PagerDuty API token: set the environment variable PAGERDUTY_API_TOKEN"),
    ({"api_token": "  "}, "No PagerDuty API token"),
    ({"api_url": "api.pagerduty.com"}, "must start with https://"),
])
def test_bad_input_fails_before_any_request(fake, run, args, expected):
    result = run(pagerduty_incident_info, info_args(fake, **args))
    assert result["failed"] is True and expected in result["msg"]
    assert fake.pagerduty.requests() == []
    assert no_secrets(result)


def test_since_is_required(fake, run):
    args = info_args(fake)
    del args["since"]
    result = run(pagerduty_incident_info, args)
    assert result["failed"] is True and "missing required arguments: since" in result["msg"]
    assert fake.pagerduty.requests() == []


def test_a_window_of_exactly_six_months_is_read(fake, run):
    seed(fake, {"created_at": "2026-03-15T00:00:00Z"})
    result = run(pagerduty_incident_info, info_args(fake, since="2026-01-01T00:00:00Z", until="2026-07-01T00:00:00Z"))
    assert numbers(result) == [1] and len(listings(fake)) == 1


# ----- PagerDuty's refusals ----------------------------------------------------------------------

def test_a_429_with_retry_after_is_waited_out_and_then_read(fake, run):
    seed(fake, {})
    fake.pagerduty.add_faults([{"path": "^/incidents$", "action": "status", "status": 429,
                                "headers": {"Retry-After": "1"}}])
    result = run(pagerduty_incident_info, info_args(fake))
    assert "failed" not in result and numbers(result) == [1]
    assert len(listings(fake)) == 2


def test_a_429_past_the_deadline_fails_with_one_clear_message(fake, run):
    fake.pagerduty.add_faults([{"path": "^/incidents$", "action": "status", "status": 429,
                                "headers": {"Retry-After": "30"}}])
    result = run(pagerduty_incident_info, info_args(fake, deadline=2))
    assert result["failed"] is True
    assert result["msg"].startswith(f"PagerDuty REST API: GET {fake.pagerduty_url}/incidents answered 429 "
                                    "(2020: Rate Limit Exceeded).")
    assert "Gave up after 1 attempt(s)" in result["msg"] and "rate limiting" in result["msg"]
    assert (result["status"], result["since"], result["until"]) == (429, SINCE_UTC, UNTIL_UTC)
    assert len(listings(fake)) == 1 and no_secrets(result)


def test_a_wrong_token_is_a_401_that_names_the_variable_and_hides_the_token(fake, run):
    result = run(pagerduty_incident_info, info_args(fake, api_token=WRONG_TOKEN))
    assert result["failed"] is True and result["status"] == 401
    assert result["msg"].startswith(f"PagerDuty REST API: GET {fake.pagerduty_url}/incidents answered 401 "
                                    "(2006: Authentication failed).")
    assert "PAGERDUTY_API_TOKEN" in result["msg"]
    assert result["api_error"] == {"code": "2006", "message": "Authentication failed"}
    assert len(listings(fake)) == 1 and no_secrets(result)


def test_an_error_that_quotes_the_token_is_masked(fake, run):
    echo = {"error": {"message": f"Token {TOKEN} may not list incidents", "code": 2010}}
    fake.pagerduty.add_faults([{"path": "^/incidents$", "action": "status", "status": 403, "body": echo}])
    result = run(pagerduty_incident_info, info_args(fake))
    assert result["failed"] is True and "Token ******** may not list incidents" in result["msg"]
    assert "may not read incidents: a read-only account or user key is enough" in result["msg"]
    assert no_secrets(result)


def test_a_500_fails_at_once_with_the_status_and_what_to_do(fake, run):
    fake.pagerduty.add_faults([{"path": "^/incidents$", "action": "status", "status": 500}])
    result = run(pagerduty_incident_info, info_args(fake))
    assert result["failed"] is True and result["status"] == 500
    assert result["msg"].startswith(f"PagerDuty REST API: GET {fake.pagerduty_url}/incidents answered 500 "
                                    "(2000: Injected 500).")
    assert "The service is failing" in result["msg"]
    assert len(listings(fake)) == 1 and no_secrets(result)


def test_a_gateway_error_is_read_again(fake, run):
    seed(fake, {})
    fake.pagerduty.add_faults([{"path": "^/incidents$", "action": "status", "status": 503}])
    result = run(pagerduty_incident_info, info_args(fake))
    assert "failed" not in result and numbers(result) == [1]
    assert len(listings(fake)) == 2
