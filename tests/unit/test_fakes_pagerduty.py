"""Checks that the PagerDuty fake keeps to api-contracts.md section 3, to the Events API's OpenAPI document,
and that PagerDuty's own Python clients (package ``pagerduty``) work against it over TLS."""
import ipaddress
import json
import os
import ssl
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from jsonschema import Draft4Validator, FormatChecker

from tests.fakes import SANDBOX_SEED, load_seed
from tests.fakes.pagerduty import EVENTS_BASE, PagerDutyServer

ROUTING_KEY = "sandboxpagerdutyroutingkey000001"
RULESET_KEY = "Rsandboxrulesetroutingkey0000001"
TOKEN = "sandboxPagerDutyApiToken01"
AUTH = {"Authorization": f"Token token={TOKEN}", "Accept": "application/vnd.pagerduty+json;version=2"}
SPEC_FILE = Path(os.environ.get("RUNBOOK_SPECS_DIR", "/work/shared/specs")) / "pagerduty-events-v2.openapi.json"


def send(fake, event, path="/v2/enqueue"):
    return requests.post(fake.pagerduty_url + path, json=event, timeout=5)


def trigger(dedup_key=None, summary="webapp is down", severity="critical", routing_key=ROUTING_KEY, **extra):
    event = {"routing_key": routing_key, "event_action": "trigger",
             "payload": {"summary": summary, "source": "ops-controller", "severity": severity}, **extra}
    if dedup_key is not None:
        event["dedup_key"] = dedup_key
    return event


def action(name, dedup_key, routing_key=ROUTING_KEY):
    return {"routing_key": routing_key, "event_action": name, "dedup_key": dedup_key}


def change(summary="Rolled back webapp", routing_key=ROUTING_KEY, **payload):
    return {"routing_key": routing_key, "payload": {"summary": summary, **payload}}


def listing(fake, params=None, headers=None):
    return requests.get(fake.pagerduty_url + "/incidents", params=params, headers=AUTH if headers is None else headers,
                        timeout=5)


def incidents_in_state(fake, *rows):
    """Replace the incidents with ``rows`` of (status, urgency, days ago)."""
    state = fake.pagerduty.state()
    now = datetime.now(timezone.utc)
    state["incidents"] = []
    for number, (status, urgency, days_ago) in enumerate(rows, start=1):
        created = (now - timedelta(days=days_ago)).isoformat(timespec="seconds").replace("+00:00", "Z")
        state["incidents"].append({
            "id": f"QSEEDED{number:07d}", "incident_number": number, "title": f"Seeded {number}", "status": status,
            "urgency": urgency, "service": "PSBX001", "incident_key": f"seeded/{number}", "created_at": created,
            "updated_at": created, "last_status_change_at": created,
            "resolved_at": created if status == "resolved" else None})
    state["incident_count"] = len(rows)
    fake.pagerduty.load(state)


# ----- the sandbox seed ---------------------------------------------------------------------------

def test_sandbox_seed_layout(fake):
    seed = load_seed(SANDBOX_SEED)["pagerduty"]
    integration = seed["integrations"][0]
    assert (integration["routing_key"], integration["service"]) == (ROUTING_KEY, "PSBX001")
    assert len(ROUTING_KEY) == len(RULESET_KEY) == 32
    assert [(s["id"], s["name"]) for s in seed["services"]] == [("PSBX001", "webapp")]
    assert list(seed["api_tokens"]) == [TOKEN]
    assert seed["alerts"] == seed["incidents"] == seed["events"] == seed["change_events"] == []
    assert fake.pagerduty_url == fake.pagerduty.url == fake.urls()["pagerduty"]


# ----- Events API v2: accepted events and deduplication -------------------------------------------

def test_trigger_opens_an_alert_and_an_incident(fake):
    response = send(fake, trigger("webapp/health", links=[{"href": "https://shop.example.com", "text": "Shop"}],
                                  images=[{"src": "https://charts.example.com/a.png"}], client="runbook",
                                  client_url="https://awx.example.com/jobs/1"))
    assert response.status_code == 202
    assert response.json() == {"status": "success", "message": "Event processed", "dedup_key": "webapp/health"}
    state = fake.pagerduty.state()
    [alert], [incident], [event] = state["alerts"], state["incidents"], state["events"]
    assert (alert["dedup_key"], alert["status"], alert["service"], alert["incident"]) == (
        "webapp/health", "triggered", "PSBX001", incident["id"])
    assert (incident["incident_number"], incident["title"], incident["urgency"], incident["incident_key"]) == (
        1, "webapp is down", "high", "webapp/health")
    assert incident["status"] == "triggered" and incident["resolved_at"] is None
    assert incident["created_at"] == incident["last_status_change_at"] and incident["created_at"].endswith("Z")
    assert (event["outcome"], event["links"][0]["text"], event["client"]) == ("created", "Shop", "runbook")
    assert ROUTING_KEY not in json.dumps(state["events"] + state["alerts"])


def test_dedup_lifecycle(fake):
    assert send(fake, trigger("k1")).status_code == 202
    assert send(fake, trigger("k1", summary="still down")).json()["dedup_key"] == "k1"
    assert send(fake, action("acknowledge", "k1")).status_code == 202
    assert send(fake, trigger("k1")).status_code == 202  # joins the acknowledged alert
    assert send(fake, action("resolve", "k1")).status_code == 202
    assert send(fake, action("resolve", "k1")).status_code == 202  # nothing open any more: dropped
    assert send(fake, trigger("k1", summary="down again")).status_code == 202  # a new alert
    assert send(fake, action("acknowledge", "never-triggered")).status_code == 202

    outcomes = [(e["event_action"], e["outcome"]) for e in fake.pagerduty.events()]
    assert outcomes == [("trigger", "created"), ("trigger", "deduplicated"), ("acknowledge", "acknowledged"),
                        ("trigger", "deduplicated"), ("resolve", "resolved"), ("resolve", "dropped"),
                        ("trigger", "created"), ("acknowledge", "dropped")]
    assert [e["dedup_key"] for e in fake.pagerduty.events("dropped")] == ["k1", "never-triggered"]
    state = fake.pagerduty.state()
    first, second = state["alerts"]
    assert (first["status"], first["event_count"], second["status"]) == ("resolved", 3, "triggered")
    first_incident, second_incident = state["incidents"]
    assert (first_incident["incident_number"], first_incident["title"], first_incident["status"]) == (
        1, "webapp is down", "resolved")
    assert first_incident["resolved_at"] is not None and first_incident["last_status_change_at"] is not None
    assert (second_incident["incident_number"], second_incident["title"]) == (2, "down again")


def test_an_acknowledge_through_another_routing_key_is_dropped(fake):
    send(fake, trigger("k1"))
    assert send(fake, action("resolve", "k1", routing_key=RULESET_KEY)).status_code == 202
    assert fake.pagerduty.state()["alerts"][0]["status"] == "triggered"
    assert [e["outcome"] for e in fake.pagerduty.events()] == ["created", "dropped"]


def test_a_trigger_without_a_key_gets_one_and_always_opens_a_new_alert(fake):
    keys = [send(fake, trigger()).json()["dedup_key"] for _attempt in range(2)]
    assert keys[0] != keys[1] and all(len(key) == 32 for key in keys)
    assert [a["dedup_key"] for a in fake.pagerduty.state()["alerts"]] == keys


@pytest.mark.parametrize("severity, urgency", [("critical", "high"), ("error", "high"), ("warning", "low"),
                                               ("info", "low")])
def test_urgency_follows_severity(fake, severity, urgency):
    send(fake, trigger(severity=severity))
    assert fake.pagerduty.state()["incidents"][0]["urgency"] == urgency


@pytest.mark.parametrize("timestamp", ["2026-05-01T10:00:00.123+0000", "2026-05-01T10:00:00Z",
                                       "2026-05-01T19:00:00+09:00", "2026-05-01T10:00:00.123456"])
def test_timestamps_in_iso_8601_are_accepted(fake, timestamp):
    event = trigger("t")
    event["payload"]["timestamp"] = timestamp
    assert send(fake, event).status_code == 202


# ----- Events API v2: refusals --------------------------------------------------------------------

def without_payload_field(name):
    event = trigger("k")
    del event["payload"][name]
    return event


def with_payload(**fields):
    event = trigger("k")
    event["payload"].update(fields)
    return event


@pytest.mark.parametrize("event, words", [
    (trigger("k", routing_key="tooshort"), "Length of 'routing_key' is incorrect (should be 32 characters)"),
    (trigger("k", routing_key="x" * 32), "Invalid routing key"),
    ({"event_action": "trigger"}, "'routing_key' is missing"),
    ({**trigger("k"), "event_action": None}, "'event_action' is missing"),
    ({**trigger("k"), "event_action": "snooze"}, "'event_action' is invalid"),
    (action("acknowledge", None), "'dedup_key' is missing"),
    (action("resolve", ""), "'dedup_key' is missing"),
    (trigger("k" * 256), "'dedup_key' is too long"),
    (trigger(7), "'dedup_key' must be a string"),
    ({**trigger("k"), "payload": None}, "'payload' is missing"),
    (without_payload_field("summary"), "'payload.summary' is missing"),
    (trigger("k", summary="s" * 1025), "'payload.summary' is too long"),
    (without_payload_field("source"), "'payload.source' is missing"),
    (with_payload(severity="fatal"), "'payload.severity' is invalid"),
    (without_payload_field("severity"), "'payload.severity' is invalid"),
    (with_payload(timestamp="yesterday"), "'payload.timestamp'"),
    (with_payload(custom_details="text"), "'payload.custom_details'"),
    (trigger("k", links=[{"text": "no href"}]), "'links'"),
    (trigger("k", images=[{"src": "http://charts.example.com/a.png"}]), "https://"),
    (trigger("k", client=5), "'client' must be a string"),
])
def test_invalid_events_are_refused(fake, event, words):
    response = send(fake, event)
    assert response.status_code == 400
    body = response.json()
    assert (body["status"], body["message"]) == ("invalid event", "Event object is invalid")
    assert any(words in error for error in body["errors"]), body["errors"]
    assert fake.pagerduty.state()["events"] == [] and fake.pagerduty.state()["alerts"] == []


def test_all_problems_are_listed_at_once(fake):
    errors = send(fake, {"routing_key": "short", "event_action": "trigger", "payload": {}}).json()["errors"]
    assert len(errors) == 2 and "routing_key" in errors[0] and "'payload' is missing" in errors[1]


@pytest.mark.parametrize("path", ["/v2/enqueue", "/v2/change/enqueue"])
def test_empty_unparseable_and_non_object_bodies_are_refused(fake, path):
    # community.general's pagerduty_change takes a 400 to its body-less POST as "the URL looks right".
    empty = requests.post(fake.pagerduty_url + path, timeout=5)
    assert empty.status_code == 400 and empty.json()["status"] == "Unrecognized object"
    broken = requests.post(fake.pagerduty_url + path, data='{"routing_key": ', timeout=5,
                           headers={"Content-Type": "application/json"})
    assert broken.status_code == 400 and broken.json()["errors"] == ["JSON parse error"]
    assert requests.post(fake.pagerduty_url + path, json=[trigger("k")], timeout=5).status_code == 400


def test_requests_over_512_kb_are_refused(fake):
    just_under = trigger("big", payload={"summary": "s", "source": "x", "severity": "info",
                                         "custom_details": {"blob": "x" * (511 * 1024)}})
    assert send(fake, just_under).status_code == 202
    over = trigger("bigger", payload={"summary": "s", "source": "x", "severity": "info",
                                      "custom_details": {"blob": "x" * (513 * 1024)}})
    response = send(fake, over)
    assert response.status_code == 400 and "512 KB" in response.json()["errors"][0]


def test_only_post_is_served_on_the_events_paths(fake):
    assert requests.get(fake.pagerduty_url + "/v2/enqueue", timeout=5).status_code == 405
    assert requests.post(fake.pagerduty_url + "/v2/other", json={}, timeout=5).status_code == 404


def test_the_routing_key_never_reaches_the_request_log(fake):
    send(fake, trigger("k"))
    requests.post(fake.pagerduty_url + "/v2/enqueue", data=f'{{"routing_key": "{ROUTING_KEY}", ', timeout=5,
                  headers={"Content-Type": "application/json"})
    listing(fake)
    logged = fake.pagerduty.requests()
    assert logged[0]["body"]["routing_key"] == "<redacted>" and '"<redacted>"' in logged[1]["body"]
    assert logged[2]["headers"]["Authorization"] == "<redacted>"
    assert ROUTING_KEY not in json.dumps(logged) and TOKEN not in json.dumps(logged)


# ----- change events ------------------------------------------------------------------------------

def test_change_events_are_kept_and_never_deduplicated(fake):
    for _attempt in range(2):
        response = send(fake, change(source="runbook", timestamp="2026-05-01T10:00:00.000000Z",
                                     custom_details={"revision": "abc123"}), "/v2/change/enqueue")
        assert response.status_code == 202 and response.json()["status"] == "success"
    state = fake.pagerduty.state()
    assert [(c["summary"], c["service"], c["custom_details"]) for c in state["change_events"]] == [
        ("Rolled back webapp", "PSBX001", {"revision": "abc123"})] * 2
    assert state["incidents"] == [] and state["alerts"] == []


@pytest.mark.parametrize("event, words", [
    (change(routing_key=RULESET_KEY), "ruleset"),
    (change(summary=""), "'payload.summary' is missing"),
    (change(summary="s" * 1025), "too long"),
    ({"routing_key": ROUTING_KEY}, "'payload' is missing"),
    (change(routing_key="short"), "Length of 'routing_key'"),
    (change(timestamp="later"), "'payload.timestamp'"),
])
def test_invalid_change_events_are_refused(fake, event, words):
    response = send(fake, event, "/v2/change/enqueue")
    assert response.status_code == 400 and any(words in e for e in response.json()["errors"])
    assert fake.pagerduty.state()["change_events"] == []


# ----- REST API: GET /incidents -------------------------------------------------------------------

@pytest.mark.parametrize("headers", [{}, {"Authorization": "Token token=wrong"},
                                     {"Authorization": f"Bearer {TOKEN}"}, {"Authorization": TOKEN}])
def test_incidents_need_the_token(fake, headers):
    refused = listing(fake, headers=headers)
    assert refused.status_code == 401
    assert refused.json() == {"error": {"message": "Authentication failed", "code": 2006}}


def test_incidents_listing_and_filters(fake):
    send(fake, trigger("a", severity="critical"))
    send(fake, trigger("b", severity="warning"))
    send(fake, trigger("c"))
    send(fake, action("acknowledge", "b"))
    send(fake, action("resolve", "c"))
    body = listing(fake).json()
    assert [i["incident_key"] for i in body["incidents"]] == ["a", "b", "c"]
    assert (body["limit"], body["offset"], body["more"], body["total"]) == (25, 0, False, None)
    first = body["incidents"][0]
    assert (first["type"], first["summary"], first["status"], first["urgency"]) == (
        "incident", "[#1] webapp is down", "triggered", "high")
    assert first["service"]["id"] == "PSBX001" and first["service"]["type"] == "service_reference"
    assert first["self"] == f"{fake.pagerduty_url}/incidents/{first['id']}"
    assert first["alert_counts"] == {"all": 1, "triggered": 1, "resolved": 0}

    def keys(params):
        response = listing(fake, params)
        assert response.status_code == 200, response.text
        return [i["incident_key"] for i in response.json()["incidents"]]
    assert keys({"statuses[]": ["triggered", "acknowledged"]}) == ["a", "b"]
    assert keys({"statuses[]": "resolved"}) == ["c"]
    assert keys({"incident_key": "b"}) == ["b"]
    assert keys({"service_ids[]": ["PSBX001"], "urgencies[]": "low"}) == ["b"]
    assert keys({"service_ids[]": "PNOTHERE"}) == []
    assert keys({"team_ids[]": "PSBXTM1"}) == ["a", "b", "c"]
    assert keys({"user_ids[]": "PSBXUS1"}) == []
    assert keys({"sort_by": "incident_number:desc"}) == ["c", "b", "a"]
    assert keys({"sort_by": "urgency:desc,incident_number:desc"}) == ["b", "c", "a"]
    assert keys({"sort_by": "incident_number:desc", "total": "true", "limit": 1, "offset": 1}) == ["b"]
    assert listing(fake, {"total": "true"}).json()["total"] == 3
    logged = fake.pagerduty.requests()[-1]
    assert logged["query_lists"]["total"] == ["true"]
    assert [r["query_lists"].get("statuses[]") for r in fake.pagerduty.requests()
            if r["path"] == "/incidents"][1] == ["triggered", "acknowledged"]


def test_since_until_and_date_range(fake):
    incidents_in_state(fake, ("resolved", "high", 45), ("resolved", "low", 10), ("triggered", "high", 0))

    def numbers(params):
        return [i["incident_number"] for i in listing(fake, params).json()["incidents"]]
    assert numbers({}) == [2, 3]  # the last month by default
    assert numbers({"date_range": "all"}) == [1, 2, 3]
    now = datetime.now(timezone.utc)
    since = (now - timedelta(days=60)).isoformat()
    until = (now - timedelta(days=5)).isoformat()
    assert numbers({"since": since, "until": until}) == [1, 2]
    assert numbers({"since": since, "until": until, "date_range": "all"}) == [1, 2, 3]
    assert numbers({"until": until}) == [2]  # from a month before until: 35 days ago
    for params in ({"since": "last week"}, {"since": until, "until": since},
                   {"since": (now - timedelta(days=200)).isoformat(), "until": now.isoformat()}):
        refused = listing(fake, params)
        assert refused.status_code == 400 and refused.json()["error"]["code"] == 2004


def test_paging_with_limit_offset_and_more(fake):
    incidents_in_state(fake, *[("triggered", "high", 0)] * 30)
    first = listing(fake).json()
    assert (len(first["incidents"]), first["limit"], first["more"]) == (25, 25, True)
    second = listing(fake, {"offset": 25}).json()
    assert (len(second["incidents"]), second["offset"], second["more"]) == (5, 25, False)
    assert [i["incident_number"] for i in first["incidents"] + second["incidents"]] == list(range(1, 31))
    assert listing(fake, {"limit": 500}).json()["limit"] == 100
    assert listing(fake, {"limit": 100, "offset": 9900}).json()["incidents"] == []


@pytest.mark.parametrize("params", [{"limit": 100, "offset": 9901}, {"statuses[]": "open"}, {"urgencies[]": "top"},
                                    {"sort_by": "title"}, {"sort_by": "incident_number:up"}, {"limit": "many"},
                                    {"limit": 0}, {"offset": -1}, {"date_range": "week"}])
def test_invalid_listing_queries(fake, params):
    refused = listing(fake, params)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == 2001
    assert refused.json()["error"]["message"] == "Invalid Input Provided"


def test_rest_rate_limit_headers_and_429(fake):
    state = fake.pagerduty.state()
    state["rest_rate_limit"] = {"requests": 3, "window": 60}
    fake.pagerduty.load(state)
    assert listing(fake, headers={}).status_code == 401  # not counted
    answers = [listing(fake) for _attempt in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["ratelimit-remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert all(a.headers["ratelimit-limit"] == "3" and 1 <= int(a.headers["ratelimit-reset"]) <= 60 for a in answers)
    assert answers[-1].json() == {"error": {"message": "Rate Limit Exceeded", "code": 2020}}
    assert "ratelimit-limit" not in send(fake, trigger("k")).headers  # the Events API has none of these


def test_unknown_rest_paths(fake):
    missing = requests.get(fake.pagerduty_url + "/services", headers=AUTH, timeout=5)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == 2100
    assert requests.post(fake.pagerduty_url + "/incidents", headers=AUTH, json={}, timeout=5).status_code == 405


# ----- faults -------------------------------------------------------------------------------------

def test_fault_defaults_differ_between_the_two_apis(fake):
    fake.pagerduty.add_faults([{"path": "^/v2/enqueue$", "action": "status", "status": 429},
                               {"path": "^/incidents$", "action": "status", "status": 429},
                               {"path": "^/v2/enqueue$", "action": "status", "status": 500},
                               {"path": "^/v2/enqueue$", "action": "reset"}])
    events_limited = send(fake, trigger("k"))
    assert (events_limited.status_code, events_limited.text) == (429, "")
    rest_limited = listing(fake)
    assert rest_limited.status_code == 429 and rest_limited.json()["error"]["code"] == 2020
    assert rest_limited.headers["ratelimit-remaining"] == "0"
    failed = send(fake, trigger("k"))
    assert failed.status_code == 500 and failed.json()["message"] == "Injected 500"
    with pytest.raises(requests.ConnectionError):
        send(fake, trigger("k"))
    assert fake.pagerduty.state()["events"] == []
    assert send(fake, trigger("k")).status_code == 202 and fake.pagerduty.faults() == []


# ----- against the Events API's OpenAPI document --------------------------------------------------

FORMATS = FormatChecker(formats=())


@FORMATS.checks("date-time", raises=ValueError)
def is_date_time(value):
    return not isinstance(value, str) or datetime.fromisoformat(value).utcoffset() is not None


@FORMATS.checks("url")
def is_url(value):
    return not isinstance(value, str) or (urlsplit(value).scheme in ("http", "https") and bool(urlsplit(value).netloc))


@pytest.fixture(scope="module")
def spec():
    if not SPEC_FILE.exists():
        pytest.skip(f"the PagerDuty Events OpenAPI document is not at {SPEC_FILE} (set RUNBOOK_SPECS_DIR)")
    return json.loads(SPEC_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def validate(spec):
    """``validate(pointer, instance)``: the problems of ``instance`` against the schema at that JSON pointer.

    The whole document is the root schema, so that its own ``$ref``s resolve; draft 4 reads only the ``$ref``."""
    def problems(pointer, instance):
        validator = Draft4Validator({**spec, "$ref": f"#{pointer}"}, format_checker=FORMATS)
        return [error.message for error in validator.iter_errors(instance)]
    return problems


EVENT_BODY = "/paths/~1enqueue/post/requestBody/content/application~1json/schema"
CHANGE_BODY = "/paths/~1change~1enqueue/post/requestBody/content/application~1json/schema"
SUCCESS = "/components/responses/Success/content/application~1json/schema"
# The spec's 400 answers point at a missing "ArgumentError" in their description; the generic Error fits them.
ERROR = "/components/responses/Error/content/application~1json/schema"


def test_the_schema_check_can_fail(validate):
    assert validate(EVENT_BODY, {"routing_key": ROUTING_KEY}) != []
    assert validate(EVENT_BODY, with_payload(severity="fatal")) != []
    assert validate(EVENT_BODY, with_payload(timestamp="2026-05-01T10:00:00")) != []  # no offset
    assert validate(EVENT_BODY, trigger("k", links=[{"href": "not a url"}])) != []
    assert validate(ERROR, {"status": "x"}) != []


def test_every_events_path_is_in_the_spec(spec):
    assert spec["servers"][0]["url"].endswith(EVENTS_BASE)
    served = {(method, path) for method, path, _handler in PagerDutyServer.ROUTES}
    events = {(m, p) for m, p in served if p.startswith(EVENTS_BASE + "/")}
    for method, path in events:
        assert method.lower() in spec["paths"].get(path.removeprefix(EVENTS_BASE), {}), (method, path)
    # The REST API's listing is not part of the Events document (and no REST document is in the specs folder).
    assert served - events == {("GET", "/incidents")}


ACCEPTED_EVENTS = [
    trigger("k", links=[{"href": "https://shop.example.com", "text": "Shop"}],
            images=[{"src": "https://charts.example.com/a.png", "href": "https://x.example.com", "alt": "chart"}],
            client="runbook", client_url="https://awx.example.com/jobs/1"),
    with_payload(timestamp="2015-07-17T08:42:58.315+0000", component="db", group="prod", custom_details={"a": 1},
                 **{"class": "disk"}),
    trigger(),
    action("acknowledge", "k"),
    action("resolve", "k"),
]
REFUSED_BY_THE_SPEC = [
    {"event_action": "trigger", "payload": trigger()["payload"]},
    trigger("k", images=[{"alt": "no src"}]),
    trigger("k", links=[{"text": "no href"}]),
    {**trigger("k"), "event_action": "snooze"},
    with_payload(severity="fatal"),
    without_payload_field("source"),
    with_payload(timestamp="yesterday"),
]


@pytest.mark.parametrize("event", ACCEPTED_EVENTS)
def test_accepted_events_are_valid_for_the_spec_and_their_answers_too(fake, validate, event):
    assert validate(EVENT_BODY, event) == []
    response = send(fake, event)
    assert response.status_code == 202 and validate(SUCCESS, response.json()) == []


@pytest.mark.parametrize("event", REFUSED_BY_THE_SPEC)
def test_events_the_spec_forbids_are_refused_in_its_error_shape(fake, validate, event):
    assert validate(EVENT_BODY, event) != []
    response = send(fake, event)
    assert response.status_code == 400 and validate(ERROR, response.json()) == []


def test_naive_timestamps_are_accepted_though_the_spec_asks_for_date_time(fake, validate):
    # community.general's pagerduty_alert sends datetime.now().isoformat(), without an offset, and works.
    event = with_payload(timestamp="2026-05-01T10:00:00.123456")
    assert validate(EVENT_BODY, event) != [] and send(fake, event).status_code == 202


def test_change_events_against_the_spec(fake, validate):
    accepted = {**change(source="runbook", timestamp="2026-05-01T10:00:00Z", custom_details={"revision": "abc"}),
                "links": [{"href": "https://github.com/acme/webapp/commit/abc", "text": "Commit"}]}
    assert validate(CHANGE_BODY, accepted) == []
    response = send(fake, accepted, "/v2/change/enqueue")
    assert response.status_code == 202 and validate(SUCCESS, response.json()) == []
    refused = {"routing_key": ROUTING_KEY, "payload": {"source": "no summary"}}
    assert validate(CHANGE_BODY, refused) != []
    response = send(fake, refused, "/v2/change/enqueue")
    assert response.status_code == 400 and validate(ERROR, response.json()) == []
    unparseable = requests.post(fake.pagerduty_url + "/v2/enqueue", timeout=5)
    assert validate(ERROR, unparseable.json()) == []


# ----- PagerDuty's own clients over TLS -----------------------------------------------------------

def throwaway_tls(directory):
    """A CA and a certificate for 127.0.0.1 signed by it; returns (server SSLContext, CA file)."""
    now = datetime.now(timezone.utc)
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "runbook.ops throwaway test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    server = (x509.CertificateBuilder()
              .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
              .issuer_name(ca_name).public_key(server_key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
              .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                             critical=False)
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
              .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
              .sign(ca_key, hashes.SHA256()))

    ca_file, cert_file, key_file = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(server_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context, ca_file


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    context, ca_file = throwaway_tls(tmp_path_factory.mktemp("tls"))
    server = PagerDutyServer(load_seed(SANDBOX_SEED)["pagerduty"], ssl_context=context).start()
    yield server, ca_file
    server.stop()


@pytest.fixture
def pd(tls_server, monkeypatch):
    """The pagerduty package, with the throwaway CA trusted and no proxy in the way."""
    pagerduty = pytest.importorskip("pagerduty")
    server, ca_file = tls_server
    server.reset()
    # pagerduty 7.x sends through httpx2, which reads SSL_CERT_FILE; REQUESTS_CA_BUNDLE is set as well
    # for clients built on requests (pdpyras, pagerduty < 2).
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_file))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    return pagerduty, server


def test_the_tls_fake_serves_https(tls_server):
    server, ca_file = tls_server
    assert server.url.startswith("https://127.0.0.1:")
    assert requests.get(server.url + "/incidents", headers=AUTH, timeout=5, verify=str(ca_file)).status_code == 200
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(server.url + "/incidents", headers=AUTH, timeout=5, verify=True)  # the system CAs only


def test_events_client_against_the_fake(pd):
    pagerduty, server = pd
    events = pagerduty.EventsApiV2Client(ROUTING_KEY, base_url=server.url)
    key = events.trigger("webapp is down", "ops-controller", dedup_key="webapp/health", severity="error",
                         custom_details={"probe": "/api/health"},
                         links=[{"href": "https://shop.example.com", "text": "Shop"}])
    assert key == "webapp/health"
    generated = events.trigger("disk almost full", "db1", severity="warning")
    assert generated and generated != key
    assert events.acknowledge("webapp/health") == "webapp/health"
    assert events.resolve("webapp/health") == "webapp/health"
    events.send_change_event(payload={"summary": "Rolled back webapp", "source": "runbook",
                                      "timestamp": "2026-05-01T10:00:00Z"},
                             links=[{"href": "https://github.com/acme/webapp", "text": "Repository"}])
    state = server.state()
    assert [(a["dedup_key"], a["status"]) for a in state["alerts"]] == [
        ("webapp/health", "resolved"), (generated, "triggered")]
    assert [c["summary"] for c in state["change_events"]] == ["Rolled back webapp"]
    logged = server.requests()
    assert all(r["headers"]["User-Agent"].startswith("python-pagerduty/") for r in logged)
    assert ROUTING_KEY not in json.dumps(logged)
    with pytest.raises(pagerduty.HttpError):
        pagerduty.EventsApiV2Client("x" * 32, base_url=server.url).trigger("s", "src")


def test_rest_client_lists_incidents_from_the_fake(pd):
    pagerduty, server = pd
    events = pagerduty.EventsApiV2Client(ROUTING_KEY, base_url=server.url)
    for number in range(3):
        events.trigger(f"problem {number}", "ops-controller", dedup_key=f"p{number}")
    events.acknowledge("p1")
    events.resolve("p2")
    rest = pagerduty.RestApiV2Client(TOKEN, base_url=server.url)
    open_ones = rest.list_all("incidents", params={"statuses[]": ["triggered", "acknowledged"]})
    assert [(i["incident_key"], i["status"]) for i in open_ones] == [("p0", "triggered"), ("p1", "acknowledged")]
    one_by_one = list(rest.iter_all("incidents", params={"date_range": "all"}, page_size=1))
    assert [i["incident_number"] for i in one_by_one] == [1, 2, 3]
    listings = [r for r in server.requests() if r["path"] == "/incidents"]
    assert listings[0]["query_lists"]["statuses[]"] == ["triggered", "acknowledged"]
    assert [r["query"]["offset"] for r in listings[1:]] == ["0", "1", "2"]
    assert all(r["authorized"] and "vnd.pagerduty+json" in r["headers"]["Accept"] for r in listings)
    assert rest.find("incidents", "p1", attribute="incident_key", params={"date_range": "all"})["status"] == (
        "acknowledged")
    with pytest.raises(pagerduty.HttpError):
        pagerduty.RestApiV2Client("wrongtoken", base_url=server.url).list_all("incidents")


def test_without_the_ca_the_client_refuses_the_fake(pd, monkeypatch):
    pagerduty, server = pd
    monkeypatch.delenv("SSL_CERT_FILE")  # only REQUESTS_CA_BUNDLE is left, which httpx2 does not read
    events = pagerduty.EventsApiV2Client(ROUTING_KEY, base_url=server.url)
    events.max_network_attempts = 0  # fail at the first error instead of sleeping between tries
    with pytest.raises(pagerduty.Error, match="network error"):
        events.trigger("never arrives", "ops-controller")
    assert server.requests() == []
