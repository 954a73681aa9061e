"""Checks that the Statuspage fake keeps to api-contracts.md section 2 and to the published OpenAPI document."""
import json
import os
import re
from datetime import date, datetime
from pathlib import Path

import pytest
import requests
import yaml
from jsonschema import Draft4Validator, FormatChecker

from tests.fakes import SANDBOX_SEED, load_seed
from tests.fakes.statuspage import StatuspageServer, parse_form

KEY = "sandboxStatuspageKey01"
PAGE = "sbxpage00001"
AUTH = {"Authorization": f"OAuth {KEY}"}
COMPONENTS = [("cmpwebsite01", "Website"), ("cmpapi000001", "API"), ("cmpdatabase1", "Database"),
              ("cmpcheckout1", "Checkout")]
SPEC_FILE = Path(os.environ.get("RUNBOOK_SPECS_DIR", "/work/shared/specs")) / "statuspage-v1.openapi.yaml"
ID = re.compile(r"^[0-9a-z]{12}$")


def api(fake, method, path, **kwargs):
    kwargs.setdefault("headers", AUTH)
    return requests.request(method, f"{fake.statuspage_url}/pages/{PAGE}{path}", timeout=5, **kwargs)


def create(fake, **incident):
    response = api(fake, "POST", "/incidents", json={"incident": incident})
    assert response.status_code == 201, response.text
    return response.json()


def statuses(fake):
    return fake.statuspage.component_statuses(PAGE)


def with_components(fake, count):
    state = fake.statuspage.state()
    page = state["pages"][0]
    template = page["components"][0]
    page["components"] = [{**template, "id": f"c{n:011d}", "name": f"Component {n}", "position": n}
                          for n in range(1, count + 1)]
    fake.statuspage.load(state)


# ----- the sandbox seed ---------------------------------------------------------------------------

def test_sandbox_seed_layout():
    seed = load_seed(SANDBOX_SEED)["statuspage"]
    assert list(seed["api_keys"]) == [KEY] and seed["api_keys"][KEY]["pages"] == [PAGE]
    page = seed["pages"][0]
    assert page["id"] == PAGE and page["incidents"] == []
    assert [(c["id"], c["name"], c["status"]) for c in page["components"]] == [
        (cid, name, "operational") for cid, name in COMPONENTS]


def test_fake_services_expose_the_api_base_with_v1(fake):
    assert fake.statuspage_url == fake.statuspage.url + "/v1"
    assert fake.urls()["statuspage"] == fake.statuspage_url


# ----- auth, routing ------------------------------------------------------------------------------

def test_auth_by_header_or_query_and_refusals(fake):
    assert api(fake, "GET", "/components").status_code == 200
    by_query = requests.get(f"{fake.statuspage_url}/pages/{PAGE}/components", params={"api_key": KEY}, timeout=5)
    assert by_query.status_code == 200 and len(by_query.json()) == 4
    for headers in ({}, {"Authorization": "OAuth wrongkey"}, {"Authorization": f"Bearer {KEY}"}):
        refused = api(fake, "GET", "/components", headers=headers)
        assert (refused.status_code, refused.json()) == (401, {"message": "Could not authenticate"})
    unknown_page = requests.get(f"{fake.statuspage_url}/pages/nosuchpage01/components", headers=AUTH, timeout=5)
    assert unknown_page.status_code == 404 and "message" in unknown_page.json()


def test_the_key_never_reaches_the_request_log(fake):
    api(fake, "GET", "/incidents")
    requests.get(f"{fake.statuspage_url}/pages/{PAGE}/incidents", params={"api_key": KEY, "q": "x"}, timeout=5)
    logged = fake.statuspage.requests()
    assert [r["authorized"] for r in logged] == [True, False]
    assert logged[0]["headers"]["Authorization"] == "<redacted>"
    assert logged[1]["query"] == {"api_key": "<redacted>", "q": "x"}
    assert KEY not in json.dumps(logged)


def test_unknown_path_and_wrong_method(fake):
    assert api(fake, "GET", "/nothing").status_code == 404
    assert requests.get(fake.statuspage.url + "/pages/x/incidents", headers=AUTH, timeout=5).status_code == 404
    wrong = api(fake, "DELETE", "/components")
    assert wrong.status_code == 405 and "message" in wrong.json()


@pytest.mark.parametrize("path", ["/incidents", "/incidents/unresolved", "/incidents/scheduled",
                                  "/incidents/upcoming", "/incidents/active_maintenance", "/components",
                                  "/components/cmpapi000001"])
def test_every_get_path_takes_a_json_suffix(fake, path):
    plain, suffixed = api(fake, "GET", path), api(fake, "GET", path + ".json")
    assert plain.status_code == suffixed.status_code == 200 and plain.json() == suffixed.json()


def test_json_suffix_on_writes(fake):
    created = api(fake, "POST", "/incidents.json", json={"incident": {"name": "Suffixed"}})
    assert created.status_code == 201
    incident_id = created.json()["id"]
    assert api(fake, "PATCH", f"/incidents/{incident_id}.json",
               json={"incident": {"status": "resolved"}}).json()["status"] == "resolved"
    assert api(fake, "DELETE", f"/incidents/{incident_id}.json").json()["id"] == incident_id
    assert api(fake, "PATCH", "/components/cmpapi000001.json",
               json={"component": {"status": "degraded_performance"}}).json()["status"] == "degraded_performance"


# ----- creating incidents -------------------------------------------------------------------------

def test_create_fills_the_incident(fake):
    incident = create(fake, name="Checkout errors", body="We are looking into it.")
    assert ID.match(incident["id"]) and incident["page_id"] == PAGE and incident["name"] == "Checkout errors"
    assert (incident["status"], incident["impact"], incident["impact_override"]) == ("investigating", "none", None)
    created = datetime.fromisoformat(incident["created_at"])
    assert created.utcoffset() is not None and incident["updated_at"] == incident["created_at"]
    assert incident["resolved_at"] is None and incident["scheduled_for"] is None and incident["metadata"] == {}
    assert incident["shortlink"].startswith("http://stspg.io/") and incident["components"] == []
    [update] = incident["incident_updates"]
    assert ID.match(update["id"]) and update["incident_id"] == incident["id"]
    assert (update["status"], update["body"], update["deliver_notifications"]) == (
        "investigating", "We are looking into it.", True)
    assert update["created_at"] == update["display_at"] == incident["created_at"]
    assert update["affected_components"] == []
    assert api(fake, "GET", f"/incidents/{incident['id']}").json() == incident


def test_components_change_status_on_the_page_and_set_impact(fake):
    incident = create(fake, name="Payments failing", components={"cmpcheckout1": "major_outage"},
                      component_ids=["cmpapi000001"])
    assert [c["id"] for c in incident["components"]] == ["cmpapi000001", "cmpcheckout1"]
    assert {c["id"]: c["status"] for c in incident["components"]} == {
        "cmpapi000001": "operational", "cmpcheckout1": "major_outage"}
    assert incident["impact"] == "critical"
    assert incident["incident_updates"][0]["affected_components"] == [
        {"code": "cmpcheckout1", "name": "Checkout", "old_status": "operational", "new_status": "major_outage"}]
    assert statuses(fake) == {"Website": "operational", "API": "operational", "Database": "operational",
                              "Checkout": "major_outage"}
    assert api(fake, "GET", "/components/cmpcheckout1").json()["status"] == "major_outage"


def test_impact_override_wins(fake):
    incident = create(fake, name="Slow", impact_override="minor", components={"cmpapi000001": "major_outage"})
    assert (incident["impact"], incident["impact_override"]) == ("minor", "minor")


def test_form_body_with_nested_fields(fake):
    form = [("incident[name]", "Form made"), ("incident[status]", "identified"), ("incident[body]", "Found it"),
            ("incident[component_ids][]", "cmpwebsite01"), ("incident[component_ids][]", "cmpapi000001"),
            ("incident[components][cmpapi000001]", "partial_outage"),
            ("incident[metadata][jira][issue_id]", "OPS-1"), ("incident[deliver_notifications]", "false")]
    response = api(fake, "POST", "/incidents", data=form)
    assert response.status_code == 201, response.text
    incident = response.json()
    assert (incident["name"], incident["status"], incident["impact"]) == ("Form made", "identified", "major")
    assert [c["id"] for c in incident["components"]] == ["cmpwebsite01", "cmpapi000001"]
    assert incident["metadata"] == {"jira": {"issue_id": "OPS-1"}}
    assert incident["incident_updates"][0]["deliver_notifications"] is False
    assert statuses(fake)["API"] == "partial_outage"


def test_parse_form_builds_nested_objects_and_lists():
    assert parse_form("a[b][]=1&a[b][]=2&a[c][d]=x&e=") == {"a": {"b": ["1", "2"], "c": {"d": "x"}}, "e": ""}
    for bad in ("a[b]=1&a[b][]=2", "a[][b]=1", "no-equals-sign"):
        with pytest.raises(ValueError):
            parse_form(bad)


@pytest.mark.parametrize("content_type, body", [
    ("application/x-www-form-urlencoded", '{"incident": {"name": "JSON sent as a form"}}'),
    ("application/json", "incident[name]=form+sent+as+JSON"),
    ("text/plain", '{"incident": {"name": "unlabelled"}}'),
    ("application/json", '["not", "an", "object"]'),
])
def test_a_body_that_does_not_match_its_content_type_is_refused(fake, content_type, body):
    response = api(fake, "POST", "/incidents", data=body, headers={**AUTH, "Content-Type": content_type})
    assert response.status_code == 400 and "message" in response.json()
    assert fake.statuspage.state()["pages"][0]["incidents"] == []


@pytest.mark.parametrize("incident, status, words", [
    ({}, 400, "param is missing"),
    ({"status": "investigating"}, 422, "name"),
    ({"name": "  "}, 422, "name"),
    ({"name": "x" * 256}, 422, "too long"),
    ({"name": 7}, 422, "string"),
    ({"name": "x", "status": "fixed"}, 422, "not a valid status"),
    ({"name": "x", "status": "in_progress"}, 422, "realtime"),
    ({"name": "x", "scheduled_for": "2030-01-01T00:00:00Z", "status": "investigating"}, 422, "maintenance"),
    ({"name": "x", "scheduled_for": "tomorrow"}, 422, "ISO 8601"),
    ({"name": "x", "scheduled_for": "2030-01-02T00:00:00Z", "scheduled_until": "2030-01-01T00:00:00Z"}, 422,
     "after"),
    ({"name": "x", "scheduled_until": "2030-01-01T00:00:00Z"}, 422, "scheduled_for"),
    ({"name": "x", "impact_override": "huge"}, 422, "impact_override"),
    ({"name": "x", "body": "b" * 25001}, 422, "too long"),
    ({"name": "x", "components": {"cmpapi000001": "on_fire"}}, 422, "must be one of"),
    ({"name": "x", "components": {"cmpnosuchone": "major_outage"}}, 422, "unknown component"),
    ({"name": "x", "component_ids": ["cmpnosuchone"]}, 422, "unknown component"),
    ({"name": "x", "metadata": {"jira": "OPS-1"}}, 422, "metadata"),
    ({"name": "x", "metadata": ["a"]}, 422, "metadata"),
    ({"name": "x", "backfilled": True, "component_ids": ["cmpapi000001"]}, 422, "backfilled"),
    ({"name": "x", "deliver_notifications": "perhaps"}, 422, "true or false"),
])
def test_create_refusals(fake, incident, status, words):
    response = api(fake, "POST", "/incidents", json={"incident": incident} if incident else {})
    assert response.status_code == status, response.text
    assert words in response.json()["message"]
    assert fake.statuspage.state()["pages"][0]["incidents"] == []
    assert set(statuses(fake).values()) == {"operational"}


def test_body_limits_are_inclusive(fake):
    incident = create(fake, name="n" * 255, body="b" * 25000)
    assert len(incident["name"]) == 255 and len(incident["incident_updates"][0]["body"]) == 25000


# ----- scheduled maintenance ----------------------------------------------------------------------

def test_scheduled_maintenance_lifecycle_and_lists(fake):
    realtime = create(fake, name="Outage")
    maintenance = create(fake, name="Database upgrade", scheduled_for="2030-01-01T01:00:00Z",
                         scheduled_until="2030-01-01T03:00:00+00:00", scheduled_auto_transition="true",
                         components={"cmpdatabase1": "under_maintenance"})
    assert (maintenance["status"], maintenance["impact"]) == ("scheduled", "maintenance")
    assert maintenance["scheduled_auto_in_progress"] is True
    # Times come back in the page's zone (Asia/Tokyo), the same instant.
    assert maintenance["scheduled_for"] == "2030-01-01T10:00:00.000+09:00"
    assert datetime.fromisoformat(maintenance["scheduled_until"]) == datetime.fromisoformat("2030-01-01T03:00:00+00:00")

    def listed(path):
        return [i["id"] for i in api(fake, "GET", path).json()]
    assert listed("/incidents/unresolved") == [realtime["id"]]
    assert listed("/incidents/scheduled") == listed("/incidents/upcoming") == [maintenance["id"]]
    assert listed("/incidents/active_maintenance") == []

    started = api(fake, "PATCH", f"/incidents/{maintenance['id']}", json={"incident": {"status": "in_progress"}})
    assert started.status_code == 200 and started.json()["resolved_at"] is None
    assert listed("/incidents/active_maintenance") == [maintenance["id"]] and listed("/incidents/upcoming") == []
    realtime_status = api(fake, "PATCH", f"/incidents/{maintenance['id']}", json={"incident": {"status": "resolved"}})
    assert realtime_status.status_code == 422
    done = api(fake, "PATCH", f"/incidents/{maintenance['id']}", json={"incident": {"status": "completed"}}).json()
    assert done["status"] == "completed" and done["resolved_at"] is not None
    assert [u["status"] for u in done["incident_updates"]] == ["completed", "in_progress", "scheduled"]
    assert listed("/incidents/active_maintenance") == [] and listed("/incidents/scheduled") == [maintenance["id"]]


def test_a_realtime_incident_cannot_be_scheduled_later(fake):
    incident = create(fake, name="Outage")
    response = api(fake, "PATCH", f"/incidents/{incident['id']}",
                   json={"incident": {"scheduled_for": "2030-01-01T00:00:00Z"}})
    assert response.status_code == 422 and "realtime" in response.json()["message"]


# ----- updating and deleting ----------------------------------------------------------------------

def test_patch_put_and_delete(fake):
    incident = create(fake, name="Errors", components={"cmpapi000001": "partial_outage"},
                      metadata={"runbook": {"run": "1", "step": "a"}})
    renamed = api(fake, "PATCH", f"/incidents/{incident['id']}", json={"incident": {"name": "API errors"}}).json()
    assert renamed["name"] == "API errors" and len(renamed["incident_updates"]) == 1  # no status, no body: no update

    monitoring = api(fake, "PUT", f"/incidents/{incident['id']}",
                     json={"incident": {"status": "monitoring", "metadata": {"runbook": {"run": "2"}}}}).json()
    assert monitoring["status"] == "monitoring" and monitoring["monitoring_at"] is not None
    assert monitoring["metadata"] == {"runbook": {"run": "2"}}  # replaced, not merged
    assert monitoring["incident_updates"][0]["body"] == ""

    resolved = api(fake, "PATCH", f"/incidents/{incident['id']}", data={
        "incident[status]": "resolved", "incident[body]": "Fixed.",
        "incident[components][cmpapi000001]": "operational"}).json()
    assert resolved["status"] == "resolved" and resolved["resolved_at"] >= resolved["created_at"]
    assert resolved["impact"] == "major"  # the impact the incident reached stays
    assert [u["status"] for u in resolved["incident_updates"]] == ["resolved", "monitoring", "investigating"]
    assert resolved["incident_updates"][0]["affected_components"] == [
        {"code": "cmpapi000001", "name": "API", "old_status": "partial_outage", "new_status": "operational"}]
    assert statuses(fake)["API"] == "operational"
    assert datetime.fromisoformat(resolved["updated_at"]) >= datetime.fromisoformat(incident["updated_at"])

    deleted = api(fake, "DELETE", f"/incidents/{incident['id']}")
    assert deleted.status_code == 200 and deleted.json() == resolved
    assert api(fake, "GET", f"/incidents/{incident['id']}").status_code == 404
    assert api(fake, "PATCH", f"/incidents/{incident['id']}", json={"incident": {"name": "x"}}).status_code == 404
    assert api(fake, "GET", "/incidents").json() == []


def test_update_refusals(fake):
    incident = create(fake, name="Errors")
    for body, status in (({"incident": {"status": "scheduled"}}, 422), ({"incident": {"name": ""}}, 422),
                         ({"incident": {}}, 400), ({"name": "unwrapped"}, 400)):
        assert api(fake, "PATCH", f"/incidents/{incident['id']}", json=body).status_code == status
    assert api(fake, "GET", f"/incidents/{incident['id']}").json() == incident


# ----- listing ------------------------------------------------------------------------------------

def test_incidents_newest_first_with_q_limit_and_page(fake):
    made = [create(fake, name=name)["id"] for name in ("Login slow", "Checkout errors", "Search down",
                                                       "checkout timeouts", "Emails late")]
    everything = api(fake, "GET", "/incidents").json()
    assert [i["id"] for i in everything] == made[::-1]
    found = api(fake, "GET", "/incidents", params={"q": "CHECKOUT"}).json()
    assert [i["name"] for i in found] == ["checkout timeouts", "Checkout errors"]
    second_page = api(fake, "GET", "/incidents", params={"limit": 2, "page": 2}).json()
    assert [i["id"] for i in second_page] == [made[2], made[1]]
    assert api(fake, "GET", "/incidents", params={"limit": 2, "page": 4}).json() == []
    for params in ({"limit": 0}, {"limit": "x"}, {"page": 0}):
        assert api(fake, "GET", "/incidents", params=params).status_code == 400


def test_q_also_searches_status_and_update_bodies(fake):
    incident = create(fake, name="Outage", body="The payment provider times out")
    assert [i["id"] for i in api(fake, "GET", "/incidents", params={"q": "payment provider"}).json()] == [
        incident["id"]]
    assert [i["id"] for i in api(fake, "GET", "/incidents", params={"q": "investigat"}).json()] == [incident["id"]]
    assert api(fake, "GET", "/incidents", params={"q": "nowhere"}).json() == []


def test_limit_is_at_most_100(fake):
    state = fake.statuspage.state()
    template = create(fake, name="template")
    state["pages"][0]["incidents"] = [{**template, "id": f"i{n:011d}", "component_ids": []}
                                      for n in range(105)]
    fake.statuspage.load(state)
    assert len(api(fake, "GET", "/incidents").json()) == 100
    assert len(api(fake, "GET", "/incidents", params={"limit": 500}).json()) == 100
    assert len(api(fake, "GET", "/incidents", params={"page": 2}).json()) == 5


def test_components_over_100_are_paged_until_a_short_page(fake):
    with_components(fake, 150)
    assert len(api(fake, "GET", "/components").json()) == 100  # paged by default
    assert len(api(fake, "GET", "/components", params={"per_page": 1000}).json()) == 100
    seen, number = [], 1
    while True:
        page = api(fake, "GET", "/components", params={"page": number, "per_page": 100}).json()
        seen += page
        if len(page) < 100:
            break
        number += 1
    assert number == 2 and [c["id"] for c in seen] == [f"c{n:011d}" for n in range(1, 151)]
    assert api(fake, "GET", "/components", params={"page": 3}).json() == []


# ----- components ---------------------------------------------------------------------------------

def test_component_get_and_patch(fake):
    component = api(fake, "GET", "/components/cmpdatabase1").json()
    assert (component["id"], component["name"], component["page_id"]) == ("cmpdatabase1", "Database", PAGE)
    patched = api(fake, "PATCH", "/components/cmpdatabase1",
                  data={"component[status]": "under_maintenance", "component[description]": "Upgrading"})
    assert patched.status_code == 200
    assert (patched.json()["status"], patched.json()["description"]) == ("under_maintenance", "Upgrading")
    assert patched.json()["updated_at"] > component["updated_at"]
    assert api(fake, "PATCH", "/components/cmpdatabase1",
               json={"component": {"status": "broken"}}).status_code == 422
    assert api(fake, "PATCH", "/components/cmpnosuchone", json={"component": {"status": "operational"}}
               ).status_code == 404
    assert api(fake, "GET", "/components/cmpnosuchone").status_code == 404
    assert statuses(fake)["Database"] == "under_maintenance"


# ----- rate limiting and faults -------------------------------------------------------------------

@pytest.mark.parametrize("status", [420, 429])
def test_rate_limit_answers_with_retry_after(fake, status):
    control = requests.post(fake.statuspage.url + "/_fake/rate_limit", timeout=5, json={
        "rate_limit": {"requests": 2, "window": 60, "status": status, "retry_after": 7}})
    assert control.status_code == 200 and control.json()["rate_limit"]["status"] == status
    assert api(fake, "GET", "/components", headers={}).status_code == 401  # refused requests do not count
    assert [api(fake, "GET", "/components").status_code for _attempt in range(2)] == [200, 200]
    limited = api(fake, "GET", "/components")
    assert limited.status_code == status and limited.headers["Retry-After"] == "7"
    assert "Rate limit" in limited.json()["message"]
    assert api(fake, "POST", "/incidents", json={"incident": {"name": "x"}}).status_code == status
    assert fake.statuspage.state()["pages"][0]["incidents"] == []

    fake.statuspage.set_rate_limit(None)
    assert api(fake, "GET", "/components").status_code == 200


def test_rate_limit_from_the_seed_without_retry_after(fake):
    state = fake.statuspage.state()
    state["rate_limit"] = {"requests": 1, "window": 30, "status": 429}
    fake.statuspage.load(state)
    assert api(fake, "GET", "/components").status_code == 200
    limited = api(fake, "GET", "/components")
    assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 30
    fake.statuspage.reset()
    assert [api(fake, "GET", "/components").status_code for _attempt in range(3)] == [200, 200, 200]


@pytest.mark.parametrize("config", [{"requests": 0}, {"requests": 1, "status": 500}, {"window": 60}, "on"])
def test_rate_limit_control_refuses_bad_settings(fake, config):
    response = requests.post(fake.statuspage.url + "/_fake/rate_limit", json={"rate_limit": config}, timeout=5)
    assert response.status_code == 400
    assert fake.statuspage.state()["rate_limit"] is None


def test_fault_defaults_and_recovery(fake):
    fake.statuspage.add_faults([{"path": "/components$", "action": "status", "status": 420},
                                {"path": "/components$", "action": "status", "status": 503},
                                {"path": "/incidents$", "method": "POST", "action": "reset"}])
    limited = api(fake, "GET", "/components")
    assert (limited.status_code, limited.headers["Retry-After"]) == (420, "1") and "message" in limited.json()
    unavailable = api(fake, "GET", "/components")
    assert (unavailable.status_code, unavailable.json()) == (503, {"message": "Injected 503"})
    with pytest.raises(requests.ConnectionError):
        api(fake, "POST", "/incidents", json={"incident": {"name": "lost"}})
    assert fake.statuspage.state()["pages"][0]["incidents"] == []
    assert api(fake, "GET", "/components").status_code == 200 and fake.statuspage.faults() == []


# ----- against the published OpenAPI document -----------------------------------------------------

FORMATS = FormatChecker(formats=())


@FORMATS.checks("date-time", raises=ValueError)
def is_date_time(value):
    return not isinstance(value, str) or datetime.fromisoformat(value).utcoffset() is not None


@FORMATS.checks("date", raises=ValueError)
def is_date(value):
    return not isinstance(value, str) or bool(date.fromisoformat(value))


def as_json_schema(node, answers):
    """The spec's OpenAPI 3.0 schemas as JSON Schema (draft 4).

    Examples and defaults are dropped (PyYAML reads their dates as datetime objects) and the spec's
    ``type: Object`` typo reads as ``object``. For ``answers`` every property may also be null: the
    spec marks nothing ``nullable``, yet the service sends null for each field that is not set
    (``resolved_at`` of an open incident, ``group_id`` of an ungrouped component)."""
    if isinstance(node, list):
        return [as_json_schema(item, answers) for item in node]
    if not isinstance(node, dict):
        return node
    schema = {key: as_json_schema(value, answers) for key, value in node.items()
              if key not in ("example", "default", "x-examples")}
    if schema.get("type") == "Object":
        schema["type"] = "object"
    if answers and isinstance(schema.get("properties"), dict):
        schema["properties"] = {name: or_null(sub) for name, sub in schema["properties"].items()}
    return schema


def or_null(schema):
    if "$ref" in schema:  # draft 4 ignores keywords beside $ref
        return {"anyOf": [{"type": "null"}, schema]}
    if isinstance(schema.get("type"), str):
        schema = {**schema, "type": [schema["type"], "null"]}
        if "enum" in schema:
            schema["enum"] = schema["enum"] + [None]
    return schema


@pytest.fixture(scope="module")
def spec():
    if not SPEC_FILE.exists():
        pytest.skip(f"the Statuspage OpenAPI document is not at {SPEC_FILE} (set RUNBOOK_SPECS_DIR)")
    return yaml.safe_load(SPEC_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def validators(spec):
    """``validate(kind, schema name, instance)``: kind ``answer`` lets properties be null, ``request`` does not."""
    documents = {"request": as_json_schema(spec, answers=False), "answer": as_json_schema(spec, answers=True)}

    def validate(kind, name, instance):
        # The whole document is the root schema, so that its own $refs resolve; draft 4 reads only the $ref.
        validator = Draft4Validator({**documents[kind], "$ref": f"#/components/schemas/{name}"},
                                    format_checker=FORMATS)
        return [f"{list(error.absolute_path)}: {error.message}" for error in validator.iter_errors(instance)]
    return validate


def test_the_schema_check_can_fail(validators):
    assert validators("answer", "Incident", {"id": 5}) != []
    assert validators("answer", "Incident", {"status": "fixed"}) != []
    assert validators("answer", "Incident", {"created_at": "2026-01-01T00:00:00"}) != []  # no offset
    assert validators("answer", "Component", {"status": "on_fire"}) != []
    assert validators("request", "postPagesPageIdIncidents", {"incident": {"status": "investigating"}}) != []
    assert validators("request", "postPagesPageIdIncidents", {"incident": {"name": "x", "impact_override": None}}) != []


def test_every_served_path_is_in_the_spec(spec):
    for method, template, _handler in StatuspageServer.ROUTES:
        assert method.lower() in spec["paths"].get(template, {}), f"{method} {template} is not in the spec"
    assert spec["servers"][0]["url"].endswith("/v1")


def test_answers_match_the_spec(fake, spec, validators):
    def checked(response, name, template, method, many=False):
        assert str(response.status_code) in spec["paths"][template][method]["responses"], (template, method)
        body = response.json()
        for item in body if many else [body]:
            assert validators("answer", name, item) == [], item
        return body
    incidents = "/pages/{page_id}/incidents"
    one = "/pages/{page_id}/incidents/{incident_id}"
    incident = checked(api(fake, "POST", "/incidents", json={"incident": {
        "name": "Checkout errors", "body": "Looking", "components": {"cmpcheckout1": "major_outage"},
        "metadata": {"runbook": {"run": "1"}}}}), "Incident", incidents, "post")
    for required in ("id", "page_id", "name", "status", "impact", "created_at", "updated_at", "shortlink"):
        assert incident[required] is not None
    checked(api(fake, "POST", "/incidents", json={"incident": {
        "name": "Upgrade", "scheduled_for": "2030-01-01T00:00:00Z", "scheduled_until": "2030-01-01T02:00:00Z"}}),
        "Incident", incidents, "post")
    path = f"/incidents/{incident['id']}"
    checked(api(fake, "PATCH", path, json={"incident": {"status": "resolved"}}), "Incident", one, "patch")
    checked(api(fake, "PUT", path, json={"incident": {"name": "Checkout fixed"}}), "Incident", one, "put")
    checked(api(fake, "GET", path), "Incident", one, "get")
    for suffix in ("", "/unresolved", "/scheduled", "/upcoming", "/active_maintenance"):
        checked(api(fake, "GET", "/incidents" + suffix), "Incident", incidents + suffix, "get", many=True)
    components = "/pages/{page_id}/components"
    checked(api(fake, "GET", "/components"), "Component", components, "get", many=True)
    checked(api(fake, "GET", "/components/cmpapi000001"), "Component", components + "/{component_id}", "get")
    checked(api(fake, "PATCH", "/components/cmpapi000001", json={"component": {"status": "major_outage"}}),
            "Component", components + "/{component_id}", "patch")
    checked(api(fake, "DELETE", path), "Incident", one, "delete")
    for response, method in ((api(fake, "GET", "/incidents", headers={}), "get"),
                             (api(fake, "POST", "/incidents", json={"incident": {"status": "x"}}), "post"),
                             (api(fake, "GET", "/incidents", params={"limit": "x"}), "get")):
        checked(response, "ErrorEntity", incidents, method)


ACCEPTED = [
    {"incident": {"name": "Only a name"}},
    {"incident": {"name": "Everything", "status": "identified", "impact_override": "major", "body": "b",
                  "deliver_notifications": False, "component_ids": ["cmpapi000001"],
                  "components": {"cmpapi000001": "degraded_performance"}, "metadata": {"a": {"b": "c"}}}},
    {"incident": {"name": "Maintenance", "status": "scheduled", "scheduled_for": "2030-01-01T00:00:00Z",
                  "scheduled_until": "2030-01-01T10:00:00+09:00", "scheduled_remind_prior": True,
                  "scheduled_auto_in_progress": True, "scheduled_auto_completed": True,
                  "auto_transition_to_maintenance_state": True, "auto_transition_to_operational_state": True}},
    {"incident": {"name": "Blank component status", "components": {"cmpwebsite01": ""}}},
]
REFUSED_BY_THE_SPEC = [
    {"incident": {"status": "investigating"}},
    {"incident": {"name": "x", "status": "fixed"}},
    {"incident": {"name": "x", "impact_override": "huge"}},
    {"incident": {"name": "x", "deliver_notifications": "perhaps"}},
    {"incident": {"name": "x", "component_ids": "cmpapi000001"}},
    {"incident": {"name": "x", "metadata": ["a"]}},
    {"incident": {"name": "x", "scheduled_for": "soon"}},
]


@pytest.mark.parametrize("body", ACCEPTED)
def test_accepted_create_bodies_are_valid_for_the_spec(fake, validators, body):
    assert validators("request", "postPagesPageIdIncidents", body) == []
    assert api(fake, "POST", "/incidents", json=body).status_code == 201


@pytest.mark.parametrize("body", REFUSED_BY_THE_SPEC)
def test_bodies_the_spec_forbids_are_refused(fake, validators, body):
    assert validators("request", "postPagesPageIdIncidents", body) != []
    assert api(fake, "POST", "/incidents", json=body).status_code in (400, 422)


def test_accepted_update_bodies_are_valid_for_the_spec(fake, validators):
    incident = create(fake, name="x")
    for body in ({"incident": {"status": "monitoring", "body": "Watching"}},
                 {"incident": {"components": {"cmpapi000001": "operational"}, "metadata": {"k": {"v": 1}}}}):
        assert validators("request", "patchPagesPageIdIncidents", body) == []
        assert validators("request", "putPagesPageIdIncidents", body) == []
        assert api(fake, "PATCH", f"/incidents/{incident['id']}", json=body).status_code == 200
    component = {"component": {"status": "partial_outage", "name": "API", "showcase": True,
                               "start_date": "2026-02-01"}}
    assert validators("request", "patchPagesPageIdComponents", component) == []
    assert api(fake, "PATCH", "/components/cmpapi000001", json=component).status_code == 200
