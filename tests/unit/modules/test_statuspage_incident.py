"""statuspage_incident's real main(), run in-process against the Statuspage fake, the JSON result read from stdout."""
import functools

import pytest

from ansible_collections.runbook.ops.plugins.module_utils import _statuspage_options
from ansible_collections.runbook.ops.plugins.module_utils._statuspage import DEFAULT_API_URL, StatuspageClient
from ansible_collections.runbook.ops.plugins.modules import statuspage_incident

API_KEY = "sandboxStatuspageKey01"
PAGE = "sbxpage00001"
KEY = "INC-20261204-120000"
NAME = f"[{KEY}] Checkout errors"
WRITES = ("POST", "PATCH", "PUT", "DELETE")


def args(fake, **extra):
    return {"api_key": API_KEY, "page_id": PAGE, "api_url": fake.statuspage_url, "key": KEY, **extra}


def opening(fake, **extra):
    return args(fake, name="Checkout errors", body="We are investigating errors during checkout.",
                impact="major", components={"Checkout": "major_outage"}, **extra)


def the_page(fake):
    return next(page for page in fake.statuspage.state()["pages"] if page["id"] == PAGE)


def incidents(fake):
    return the_page(fake)["incidents"]


def components(fake):
    return {component["name"]: component["status"] for component in the_page(fake)["components"]}


def writes(fake):
    return [(r["method"], r["path"], r["body"]) for r in fake.statuspage.requests() if r["method"] in WRITES]


def rerun_changes_nothing(fake, run, module_args):
    fake.statuspage.clear_requests()
    again = run(statuspage_incident, module_args)
    assert again["changed"] is False and again["request"] is None and again["found"] is True
    assert writes(fake) == []
    return again


# ----- create, find, update ------------------------------------------------------------------

def test_create_then_a_rerun_sends_no_second_post(fake, run):
    result = run(statuspage_incident, opening(fake, metadata={"runbook": {"dedup_key": KEY}}))
    assert result["changed"] is True and result["created"] is True and result["found"] is False
    assert result["request"] == {"incident": {
        "name": NAME, "status": "investigating", "body": "We are investigating errors during checkout.",
        "impact_override": "major", "components": {"cmpcheckout1": "major_outage"},
        "component_ids": ["cmpcheckout1"], "metadata": {"runbook": {"dedup_key": KEY}},
        "deliver_notifications": True}}
    assert [(write[0], write[2]) for write in writes(fake)] == [("POST", result["request"])]

    incident = result["incident"]
    assert incident["id"] and incident["name"] == NAME and incident["key"] == KEY
    assert (incident["status"], incident["impact"], incident["kind"]) == ("investigating", "major", "incident")
    assert incident["components"] == [{"id": "cmpcheckout1", "name": "Checkout", "status": "major_outage"}]
    assert incident["metadata"] == {"runbook": {"dedup_key": KEY}}
    assert incident["shortlink"] and incident["created_at"] and incident["resolved_at"] is None
    assert [(u["status"], u["body"]) for u in incident["updates"]] == [
        ("investigating", "We are investigating errors during checkout.")]
    assert components(fake)["Checkout"] == "major_outage"

    again = rerun_changes_nothing(fake, run, opening(fake, metadata={"runbook": {"dedup_key": KEY}}))
    assert again["created"] is False and again["incident"]["id"] == incident["id"]
    assert len(incidents(fake)) == 1


def test_a_later_run_finds_the_incident_by_its_key_among_others(fake, run):
    run(statuspage_incident, args(fake, key="INC-20261204-1200", name="Older, key a prefix of ours"))
    created = run(statuspage_incident, args(fake, name="Checkout errors"))["incident"]
    run(statuspage_incident, args(fake, key=f"{KEY}-2", name="Newer, key starting with ours"))
    fake.statuspage.clear_requests()

    result = run(statuspage_incident, args(fake, create=False, status="identified", body="A bad deploy."))
    assert result["found"] is True and result["created"] is False and result["changed"] is True
    assert result["incident"]["id"] == created["id"] and result["incident"]["status"] == "identified"
    assert [write[:2] for write in writes(fake)] == [
        ("PATCH", f"/v1/pages/{PAGE}/incidents/{created['id']}")]
    searched = fake.statuspage.requests()[0]
    assert searched["path"] == f"/v1/pages/{PAGE}/incidents" and searched["query"]["q"] == KEY


def test_an_update_is_posted_only_when_status_or_body_changes(fake, run):
    run(statuspage_incident, args(fake, name="Checkout errors", body="Investigating."))

    fake.statuspage.clear_requests()
    result = run(statuspage_incident, args(fake, status="monitoring", body="Investigating."))
    assert result["request"] == {"incident": {"status": "monitoring", "body": "Investigating.",
                                              "deliver_notifications": True}}
    rerun_changes_nothing(fake, run, args(fake, status="monitoring", body="Investigating."))
    # The same text from a YAML block scalar, with its trailing line break, is the same text.
    rerun_changes_nothing(fake, run, args(fake, status="monitoring", body="Investigating.\n"))
    # Without status or body nothing is posted at all.
    rerun_changes_nothing(fake, run, args(fake))

    fake.statuspage.clear_requests()
    result = run(statuspage_incident, args(fake, body="A fix is deployed.", deliver_notifications=False))
    assert result["request"] == {"incident": {"status": "monitoring", "body": "A fix is deployed.",
                                              "deliver_notifications": False}}
    assert [(u["status"], u["body"]) for u in result["incident"]["updates"]] == [
        ("monitoring", "A fix is deployed."), ("monitoring", "Investigating."), ("investigating", "Investigating.")]
    assert incidents(fake)[0]["incident_updates"][0]["deliver_notifications"] is False


def test_given_fields_change_only_what_differs(fake, run):
    run(statuspage_incident, opening(fake))
    fake.statuspage.clear_requests()
    result = run(statuspage_incident, args(fake, name="Checkout and API errors", impact="critical",
                                           components={"Checkout": "major_outage", "API": "partial_outage"}))
    assert result["request"] == {"incident": {
        "name": f"[{KEY}] Checkout and API errors", "impact_override": "critical",
        "components": {"cmpcheckout1": "major_outage", "cmpapi000001": "partial_outage"},
        "component_ids": ["cmpcheckout1", "cmpapi000001"], "deliver_notifications": True}}
    assert result["incident"]["updates"][0]["body"] == "We are investigating errors during checkout."
    assert components(fake)["API"] == "partial_outage"
    rerun_changes_nothing(fake, run, args(fake, name="Checkout and API errors", impact="critical",
                                          components={"Checkout": "major_outage", "API": "partial_outage"}))


def test_the_name_is_cut_to_255_characters_never_the_key(fake, run):
    result = run(statuspage_incident, args(fake, name="x" * 300))
    assert result["incident"]["name"] == f"[{KEY}] " + "x" * (255 - len(KEY) - 3)
    assert len(result["incident"]["name"]) == 255
    rerun_changes_nothing(fake, run, args(fake, name="x" * 300))


def test_several_incidents_carrying_the_key_the_newest_is_used_with_a_warning(fake, run):
    client = StatuspageClient(API_KEY, PAGE, base_url=fake.statuspage_url)
    older = client.create_incident({"name": f"[{KEY}] First"})
    newer = client.create_incident({"name": f"[{KEY}] Second"})
    result = run(statuspage_incident, args(fake, status="identified"), own_process=True)
    assert result["incident"]["id"] == newer["id"]
    assert (f"2 incidents carry [{KEY}] in their name; using the newest, {newer['id']}. "
            f"The others: {older['id']}.") in str(result["warnings"])


# ----- resolve -------------------------------------------------------------------------------

def test_resolve_returns_the_affected_components_to_operational(fake, run):
    run(statuspage_incident, args(fake, name="Checkout errors",
                                  components={"Checkout": "major_outage", "API": "degraded_performance"}))
    fake.statuspage.clear_requests()
    result = run(statuspage_incident, args(fake, state="resolved", body="Fixed."))
    assert result["changed"] is True
    assert result["request"]["incident"]["status"] == "resolved"
    assert result["request"]["incident"]["components"] == {"cmpcheckout1": "operational",
                                                           "cmpapi000001": "operational"}
    assert result["incident"]["status"] == "resolved" and result["incident"]["resolved_at"]
    assert set(components(fake).values()) == {"operational"}
    # No component list was needed: the incident names its components.
    assert [r["path"] for r in fake.statuspage.requests() if r["method"] == "GET"] == [
        f"/v1/pages/{PAGE}/incidents"]
    rerun_changes_nothing(fake, run, args(fake, state="resolved", body="Fixed."))


def test_resolve_leaves_a_component_named_otherwise(fake, run):
    run(statuspage_incident, args(fake, name="Checkout errors",
                                  components={"Checkout": "major_outage", "API": "major_outage"}))
    result = run(statuspage_incident, args(fake, state="resolved", components={"API": "degraded_performance"}))
    assert result["request"]["incident"]["components"] == {"cmpcheckout1": "operational",
                                                           "cmpapi000001": "degraded_performance"}
    assert components(fake) == {"Website": "operational", "API": "degraded_performance", "Database": "operational",
                                "Checkout": "operational"}
    rerun_changes_nothing(fake, run, args(fake, state="resolved", components={"API": "degraded_performance"}))


def test_a_resolved_incident_is_reopened_only_when_reopen_says_so(fake, run):
    run(statuspage_incident, args(fake, name="Checkout errors"))
    run(statuspage_incident, args(fake, state="resolved"))
    rerun_changes_nothing(fake, run, args(fake, name="Checkout errors"))
    before = len(writes(fake))
    refused = run(statuspage_incident, args(fake, status="identified", body="Late update."))
    assert refused["failed"] is True and "reopen=true" in refused["msg"] and len(writes(fake)) == before
    reopened = run(statuspage_incident, args(fake, status="investigating", body="It is back.", reopen=True))
    assert reopened["incident"]["status"] == "investigating" and reopened["incident"]["resolved_at"] is None


# ----- failures before any write -------------------------------------------------------------

def test_create_false_with_an_unknown_key_fails_and_writes_nothing(fake, run):
    result = run(statuspage_incident, args(fake, name="Checkout errors", create=False, status="monitoring"))
    assert result["failed"] is True and f"[{KEY}]" in result["msg"] and "create=false" in result["msg"]
    assert writes(fake) == [] and incidents(fake) == []


def test_resolving_an_unknown_key_fails_and_writes_nothing(fake, run):
    result = run(statuspage_incident, args(fake, state="resolved"))
    assert result["failed"] is True and "nothing to resolve" in result["msg"]
    assert writes(fake) == []


def test_an_unknown_component_fails_listing_the_known_ones_and_writes_nothing(fake, run):
    result = run(statuspage_incident, args(fake, name="Checkout errors", components={"Chekout": "major_outage"}))
    assert result["failed"] is True and "'Chekout'" in result["msg"]
    assert "API, Checkout, Database, Website" in result["msg"]
    assert writes(fake) == [] and incidents(fake) == []

    run(statuspage_incident, args(fake, name="Checkout errors"))
    fake.statuspage.clear_requests()
    result = run(statuspage_incident, args(fake, status="identified", components={"Paymnt": "major_outage"}))
    assert result["failed"] is True and "'Paymnt'" in result["msg"] and writes(fake) == []


def test_a_component_may_be_named_by_its_id(fake, run):
    result = run(statuspage_incident, args(fake, name="Checkout errors", components={"cmpcheckout1": "partial_outage"}))
    assert result["incident"]["components"] == [{"id": "cmpcheckout1", "name": "Checkout", "status": "partial_outage"}]


@pytest.mark.parametrize("extra, text", [
    ({"status": "scheduled"}, "status scheduled does not go with kind=incident"),
    ({"kind": "maintenance", "status": "monitoring"}, "use one of scheduled, in_progress, verifying."),
    ({"components": {"Checkout": "broken"}}, "Component status must be one of"),
    ({"metadata": {"runbook": "not a dict"}}, "runbook is not"),
    ({"state": "resolved", "status": "monitoring"}, "status does not go with state=resolved"),
    ({"scheduled_for": "2026-12-10T22:00:00+09:00"}, "only go(es) with kind=maintenance"),
    ({"key": "INC[1]"}, "without square brackets"),
    ({"kind": "maintenance", "scheduled_for": "2026-12-10T22:00:00"}, "needs a time zone"),
    ({"kind": "maintenance", "scheduled_for": "tomorrow"}, "not an ISO 8601"),
    ({"kind": "maintenance", "scheduled_for": "2026-12-10T22:00:00Z", "scheduled_until": "2026-12-10T21:00:00Z"},
     "scheduled_until must be after scheduled_for"),
])
def test_bad_arguments_fail_before_any_request(fake, run, extra, text):
    result = run(statuspage_incident, args(fake, **{"name": "Checkout errors", **extra}))
    assert result["failed"] is True and text in result["msg"]
    assert fake.statuspage.requests() == []


def test_a_maintenance_key_used_as_an_incident_fails(fake, run):
    run(statuspage_incident, args(fake, kind="maintenance", name="Upgrade", scheduled_for="2026-12-10T22:00:00+09:00",
                                  scheduled_until="2026-12-10T23:00:00+09:00"))
    fake.statuspage.clear_requests()
    result = run(statuspage_incident, args(fake, status="identified"))
    assert result["failed"] is True and "set kind=maintenance" in result["msg"] and writes(fake) == []


def test_creating_needs_a_name(fake, run):
    result = run(statuspage_incident, args(fake, status="investigating"))
    assert result["failed"] is True and "name is required" in result["msg"] and writes(fake) == []


def test_a_create_that_fails_at_the_gateway_is_not_repeated_and_says_a_rerun_is_safe(fake, run):
    fake.statuspage.add_faults([{"method": "POST", "action": "status", "status": 502}])
    result = run(statuspage_incident, opening(fake))
    assert result["failed"] is True and result["status"] == 502 and result["method"] == "POST"
    assert "Statuspage API: POST" in result["msg"] and "running the task again is safe" in result["msg"]
    assert result["request"]["incident"]["name"] == NAME
    assert [write[0] for write in writes(fake)] == ["POST"]


# ----- check mode and diff -------------------------------------------------------------------

def test_check_mode_reads_but_never_writes_and_shows_the_body(fake, run):
    result = run(statuspage_incident, opening(fake), check=True)
    assert result["changed"] is True and result["created"] is True and result["found"] is False
    assert result["request"]["incident"]["name"] == NAME
    assert result["request"]["incident"]["components"] == {"cmpcheckout1": "major_outage"}
    assert result["incident"]["id"] is None and result["incident"]["status"] == "investigating"
    assert result["incident"]["components"] == [{"id": "cmpcheckout1", "name": "Checkout", "status": "major_outage"}]
    assert writes(fake) == [] and incidents(fake) == [] and components(fake)["Checkout"] == "operational"
    assert {r["method"] for r in fake.statuspage.requests()} == {"GET"}

    created = run(statuspage_incident, opening(fake))
    assert created["request"] == result["request"]

    fake.statuspage.clear_requests()
    predicted = run(statuspage_incident, args(fake, state="resolved", body="Fixed."), check=True)
    assert predicted["changed"] is True and predicted["request"] == {"incident": {
        "status": "resolved", "body": "Fixed.", "components": {"cmpcheckout1": "operational"},
        "component_ids": ["cmpcheckout1"], "deliver_notifications": True}}
    assert predicted["incident"]["status"] == "resolved"
    assert predicted["incident"]["updates"][0] == {"status": "resolved", "body": "Fixed.", "created_at": None}
    assert writes(fake) == [] and incidents(fake)[0]["status"] == "investigating"

    unchanged = run(statuspage_incident, opening(fake), check=True)
    assert unchanged["changed"] is False and unchanged["request"] is None


def test_diff_shows_the_managed_fields_before_and_after(fake, run):
    created = run(statuspage_incident, opening(fake), diff=True)
    assert created["diff"] == {"before": {}, "after": {
        "name": NAME, "status": "investigating", "impact": "major", "components": {"Checkout": "major_outage"},
        "metadata": {}}}

    updated = run(statuspage_incident, args(fake, status="monitoring", components={"Checkout": "degraded_performance"},
                                            metadata={"runbook": {"step": "fix"}}), diff=True, check=True)
    assert updated["diff"]["before"] == created["diff"]["after"]
    assert updated["diff"]["after"] == {
        "name": NAME, "status": "monitoring", "impact": "major", "components": {"Checkout": "degraded_performance"},
        "metadata": {"runbook": {"step": "fix"}}}


# ----- metadata ------------------------------------------------------------------------------

def test_metadata_is_merged_two_levels_deep_and_sent_whole(fake, run):
    run(statuspage_incident, args(fake, name="Checkout errors",
                                  metadata={"runbook": {"dedup_key": KEY, "step": "open"}, "jira": {"issue": "OPS-1"}}))
    fake.statuspage.clear_requests()
    result = run(statuspage_incident, args(fake, metadata={"runbook": {"step": "fix"}, "slack": {"ts": "1.2"}}))
    whole = {"runbook": {"dedup_key": KEY, "step": "fix"}, "jira": {"issue": "OPS-1"}, "slack": {"ts": "1.2"}}
    assert result["request"] == {"incident": {"metadata": whole, "deliver_notifications": True}}
    assert incidents(fake)[0]["metadata"] == whole and result["incident"]["metadata"] == whole
    # Nothing posted to subscribers for metadata alone.
    assert len(result["incident"]["updates"]) == 1
    rerun_changes_nothing(fake, run, args(fake, metadata={"runbook": {"step": "fix"}}))


# ----- scheduled maintenance -----------------------------------------------------------------

def test_maintenance_is_scheduled_started_and_completed(fake, run):
    window = {"scheduled_for": "2026-12-10T13:00:00Z", "scheduled_until": "2026-12-10T14:00:00Z"}
    maintenance = args(fake, key="MNT-20261210-2200", kind="maintenance", name="Database upgrade",
                       body="Read-only during the upgrade.", components={"Database": "under_maintenance"},
                       scheduled_remind_prior=True, **window)
    result = run(statuspage_incident, maintenance)
    assert result["created"] is True
    sent = result["request"]["incident"]
    assert (sent["status"], sent["scheduled_for"], sent["scheduled_until"]) == (
        "scheduled", "2026-12-10T13:00:00Z", "2026-12-10T14:00:00Z")
    assert sent["scheduled_remind_prior"] is True
    incident = result["incident"]
    assert incident["kind"] == "maintenance" and incident["status"] == "scheduled"
    assert components(fake)["Database"] == "under_maintenance"
    # The page answers in its own zone (+09:00); the same moment is not a change.
    assert incident["scheduled_for"].startswith("2026-12-10T22:00:00")
    rerun_changes_nothing(fake, run, maintenance)
    rerun_changes_nothing(fake, run, {**maintenance, "scheduled_for": "2026-12-10T22:00:00+09:00"})

    started = run(statuspage_incident, {**maintenance, "status": "in_progress", "body": "Started."})
    assert started["request"]["incident"] == {"status": "in_progress", "body": "Started.",
                                              "deliver_notifications": True}
    moved = run(statuspage_incident, {**maintenance, "status": "in_progress", "body": "Started.",
                                      "scheduled_until": "2026-12-10T23:30:00+09:00"})
    assert moved["request"]["incident"] == {"scheduled_until": "2026-12-10T14:30:00Z", "deliver_notifications": True}

    done = run(statuspage_incident, args(fake, key="MNT-20261210-2200", kind="maintenance", state="resolved",
                                         body="Done."))
    assert done["incident"]["status"] == "completed"
    assert done["request"]["incident"]["components"] == {"cmpdatabase1": "operational"}
    assert components(fake)["Database"] == "operational"
    rerun_changes_nothing(fake, run, args(fake, key="MNT-20261210-2200", kind="maintenance", state="resolved",
                                          body="Done."))


def test_a_maintenance_needs_its_window_to_be_created(fake, run):
    result = run(statuspage_incident, args(fake, kind="maintenance", name="Upgrade",
                                           scheduled_for="2026-12-10T22:00:00+09:00"))
    assert result["failed"] is True and "scheduled_until are required" in result["msg"] and writes(fake) == []


# ----- rate limits, credentials, secrets -----------------------------------------------------

@pytest.mark.parametrize("status", [420, 429])
def test_a_rate_limit_is_ridden_out(fake, run, monkeypatch, status):
    waits = []

    def sleep(seconds):
        # Really wait: the fake's rate window runs on real time. It is one second.
        waits.append(seconds)
        __import__("time").sleep(seconds)

    monkeypatch.setattr(_statuspage_options, "StatuspageClient", functools.partial(StatuspageClient, sleep=sleep))
    fake.statuspage.set_rate_limit({"requests": 2, "window": 1, "status": status, "retry_after": 1})
    result = run(statuspage_incident, opening(fake))
    assert result["created"] is True and len(incidents(fake)) == 1
    assert waits and set(waits) == {1.0}
    # Search, open incidents, components and the create, each once, plus one refused request per wait.
    assert len(fake.statuspage.requests()) == 4 + len(waits)
    rerun_changes_nothing(fake, run, opening(fake))


def test_the_api_key_never_appears_in_the_output(fake, run):
    outputs = [run(statuspage_incident, opening(fake), diff=True)["_stdout"],
               run(statuspage_incident, args(fake, state="resolved"), check=True)["_stdout"]]
    failed = run(statuspage_incident, {**opening(fake), "api_key": "wrongStatuspageKey999"})
    assert failed["failed"] is True and failed["status"] == 401 and "STATUS_PAGE_API_KEY" in failed["msg"]
    outputs.append(failed["_stdout"])
    for output in outputs:
        assert API_KEY not in output and "wrongStatuspageKey999" not in output


def test_credentials_come_from_the_environment(fake, run, monkeypatch):
    monkeypatch.setenv("STATUS_PAGE_API_KEY", API_KEY + "\n")
    monkeypatch.setenv("STATUS_PAGE_ID", PAGE)
    monkeypatch.setenv("STATUSPAGE_API_URL", fake.statuspage_url)
    result = run(statuspage_incident, {"key": KEY, "name": "Checkout errors"})
    assert result["created"] is True and API_KEY not in result["_stdout"]


def test_a_missing_key_or_page_fails_clearly(fake, run, monkeypatch):
    monkeypatch.delenv("STATUS_PAGE_API_KEY", raising=False)
    monkeypatch.delenv("STATUS_PAGE_ID", raising=False)
    no_key = run(statuspage_incident, {"key": KEY, "page_id": PAGE, "api_url": fake.statuspage_url})
    assert no_key["failed"] is True and "STATUS_PAGE_API_KEY" in no_key["msg"]
    no_page = run(statuspage_incident, {"key": KEY, "api_key": API_KEY, "api_url": fake.statuspage_url})
    assert no_page["failed"] is True and "STATUS_PAGE_ID" in no_page["msg"]
    assert fake.statuspage.requests() == []


class Module:
    """Just enough of AnsibleModule for statuspage_client."""

    def __init__(self, **params):
        self.params = {"api_key": API_KEY, "page_id": PAGE, "api_url": None, "timeout": 10, "deadline": 60,
                       "validate_certs": True, "ca_path": None, **params}

    def fail_json(self, **result):
        raise AssertionError(result["msg"])


@pytest.mark.parametrize("api_url", ["", "  ", None])
def test_an_empty_api_url_means_the_default(api_url):
    client = _statuspage_options.statuspage_client(Module(api_url=api_url))
    assert client.http.base_url == DEFAULT_API_URL and client.page_path == f"/pages/{PAGE}"


def test_an_api_url_without_a_scheme_is_refused():
    with pytest.raises(AssertionError, match="must start with https://"):
        _statuspage_options.statuspage_client(Module(api_url="api.statuspage.io/v1"))
