"""statuspage_incident_info's real main(), run in-process against the Statuspage fake, the JSON result read from stdout."""
import datetime

import pytest

from ansible_collections.runbook.ops.plugins.module_utils._statuspage import StatuspageClient
from ansible_collections.runbook.ops.plugins.modules import statuspage_incident_info
from ansible_collections.runbook.ops.plugins.modules.statuspage_incident_info import window_state

API_KEY = "sandboxStatuspageKey01"
PAGE = "sbxpage00001"
NOW = datetime.datetime.now(datetime.timezone.utc)


def args(fake, **extra):
    return {"api_key": API_KEY, "page_id": PAGE, "api_url": fake.statuspage_url, **extra}


def client(fake):
    return StatuspageClient(API_KEY, PAGE, base_url=fake.statuspage_url)


def at(hours):
    """ISO 8601 in UTC, ``hours`` from now."""
    return (NOW + datetime.timedelta(hours=hours)).isoformat(timespec="seconds")


def maintenance(fake, name, starts, ends, status="scheduled"):
    return client(fake).create_incident({"name": name, "status": status, "scheduled_for": at(starts),
                                         "scheduled_until": at(ends)})


@pytest.fixture
def busy_page(fake):
    """An open incident, a resolved one, and maintenances: to come, running, due now, past but open, completed."""
    statuspage = client(fake)
    opened = statuspage.create_incident({"name": "[INC-20261204-120000] Checkout errors", "status": "identified",
                                         "impact_override": "major", "body": "A bad deploy.",
                                         "components": {"cmpcheckout1": "major_outage"}})
    resolved = statuspage.create_incident({"name": "[INC-20261203-090000] Slow search"})
    statuspage.update_incident(resolved["id"], {"status": "resolved"})
    return {
        "opened": opened,
        "later": maintenance(fake, "[MNT-1] Database upgrade", 24, 25),
        "running": maintenance(fake, "Cache resize", -1, 1, status="in_progress"),
        "due": maintenance(fake, "Search reindex", -0.5, 0.5),
        "forgotten": maintenance(fake, "Old window", -5, -4),
        "completed": maintenance(fake, "Done earlier", -3, -2, status="completed"),
    }


def ids(summaries):
    return [summary["id"] for summary in summaries]


def test_an_empty_page_does_not_freeze(fake, run):
    result = run(statuspage_incident_info, args(fake))

    assert result["changed"] is False and "failed" not in result
    assert (result["unresolved"], result["maintenances"], result["active_maintenances"]) == ([], [], [])
    assert result["freeze"] is False and result["freeze_reasons"] == []
    checked = datetime.datetime.fromisoformat(result["checked_at"])
    assert result["checked_at"].endswith("Z") and abs((checked - NOW).total_seconds()) < 3600
    assert API_KEY not in result["_stdout"]
    assert sorted(r["path"] for r in fake.statuspage.requests()) == sorted(
        f"/v1/pages/{PAGE}/incidents/{listing}" for listing in ("unresolved", "scheduled", "active_maintenance"))


def test_open_incidents_and_active_maintenances_freeze_with_a_reason_each(fake, run, busy_page):
    result = run(statuspage_incident_info, args(fake))

    [incident] = result["unresolved"]
    assert incident["id"] == busy_page["opened"]["id"] and incident["key"] == "INC-20261204-120000"
    assert (incident["kind"], incident["status"], incident["impact"]) == ("incident", "identified", "major")
    assert incident["components"] == [{"id": "cmpcheckout1", "name": "Checkout", "status": "major_outage"}]
    assert [(update["status"], update["body"]) for update in incident["updates"]] == [("identified", "A bad deploy.")]

    # Earliest window first; the completed one is gone, the one whose window passed is still open.
    assert ids(result["maintenances"]) == [busy_page[name]["id"] for name in ("forgotten", "running", "due", "later")]
    assert result["maintenances"][-1]["key"] == "MNT-1" and result["maintenances"][0]["key"] is None
    assert all(item["kind"] == "maintenance" for item in result["maintenances"])
    assert ids(result["active_maintenances"]) == [busy_page["running"]["id"], busy_page["due"]["id"]]

    running, due = result["active_maintenances"]
    assert result["freeze"] is True
    assert result["freeze_reasons"] == [
        'Incident "[INC-20261204-120000] Checkout errors" is identified, impact major.',
        f'Maintenance "Cache resize" is in progress, scheduled from {running["scheduled_for"]} '
        f'until {running["scheduled_until"]}.',
        f'Maintenance "Search reindex" is scheduled from {due["scheduled_for"]} until {due["scheduled_until"]}, '
        'which is now.',
    ]
    assert API_KEY not in result["_stdout"]


def test_a_maintenance_still_to_come_does_not_freeze(fake, run):
    later = maintenance(fake, "Database upgrade", 2, 3)

    result = run(statuspage_incident_info, args(fake))

    assert ids(result["maintenances"]) == [later["id"]] and result["active_maintenances"] == []
    assert result["freeze"] is False and result["freeze_reasons"] == []


def test_a_resolved_incident_does_not_freeze(fake, run):
    statuspage = client(fake)
    incident = statuspage.create_incident({"name": "Checkout errors"})
    statuspage.update_incident(incident["id"], {"status": "resolved"})

    result = run(statuspage_incident_info, args(fake))

    assert result["unresolved"] == [] and result["freeze"] is False


def test_listings_broader_than_asked_are_narrowed_by_kind_and_status(fake, run, busy_page, monkeypatch):
    # Statuspage does not document what its unresolved and scheduled listings hold; here both give everything.
    def everything(self):
        return self._all_pages("/incidents", {}, "limit")
    monkeypatch.setattr(StatuspageClient, "unresolved_incidents", everything)
    monkeypatch.setattr(StatuspageClient, "open_maintenances", everything)

    result = run(statuspage_incident_info, args(fake))

    assert ids(result["unresolved"]) == [busy_page["opened"]["id"]]
    assert ids(result["maintenances"]) == [busy_page[name]["id"] for name in ("forgotten", "running", "due", "later")]
    assert ids(result["active_maintenances"]) == [busy_page["running"]["id"], busy_page["due"]["id"]]


def test_check_mode_reads_the_same(fake, run, busy_page):
    fake.statuspage.clear_requests()
    checked = run(statuspage_incident_info, args(fake), check=True)
    applied = run(statuspage_incident_info, args(fake))

    assert checked["changed"] is False
    for part in ("unresolved", "maintenances", "active_maintenances", "freeze", "freeze_reasons"):
        assert checked[part] == applied[part]
    assert [r["method"] for r in fake.statuspage.requests()] == ["GET"] * 6


def test_the_key_and_page_come_from_the_environment_and_are_never_shown(fake, run, monkeypatch):
    monkeypatch.setenv("STATUS_PAGE_API_KEY", API_KEY)
    monkeypatch.setenv("STATUS_PAGE_ID", PAGE)
    monkeypatch.setenv("STATUSPAGE_API_URL", fake.statuspage_url)

    result = run(statuspage_incident_info, {})

    assert result["freeze"] is False and API_KEY not in result["_stdout"]


def test_a_wrong_key_fails_naming_the_service_and_what_to_do(fake, run):
    result = run(statuspage_incident_info, args(fake, api_key="wrong-Statuspage-key-1"))

    assert result["failed"] is True and result["status"] == 401
    assert result["msg"].startswith(f"Statuspage API: GET {fake.statuspage_url}/pages/{PAGE}/incidents/unresolved "
                                    "answered 401")
    assert "STATUS_PAGE_API_KEY" in result["msg"]
    assert "wrong-Statuspage-key-1" not in result["_stdout"]


def test_no_key_fails_before_any_request(fake, run, monkeypatch):
    monkeypatch.delenv("STATUS_PAGE_API_KEY", raising=False)

    result = run(statuspage_incident_info, {"page_id": PAGE, "api_url": fake.statuspage_url})

    assert result["failed"] is True and "STATUS_PAGE_API_KEY" in result["msg"]
    assert fake.statuspage.requests() == []


# ----- when a maintenance counts as active ------------------------------------------------------

NOON = datetime.datetime(2026, 12, 10, 12, 0, tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize("status, starts, ends, state", [
    ("in_progress", "2026-12-11T00:00:00Z", "2026-12-11T01:00:00Z", "running"),
    ("verifying", "2026-12-09T00:00:00Z", "2026-12-09T01:00:00Z", "running"),
    ("scheduled", "2026-12-10T20:30:00.000+09:00", "2026-12-10T21:30:00.000+09:00", "due"),
    ("scheduled", "2026-12-10T12:00:00Z", "2026-12-10T13:00:00Z", "due"),  # starts this very moment
    ("scheduled", "2026-12-10T11:00:00Z", "2026-12-10T12:00:00Z", "outside"),  # ended this very moment
    ("scheduled", "2026-12-10T13:00:00Z", "2026-12-10T14:00:00Z", "outside"),
    ("scheduled", "2026-12-10T11:00:00", None, "due"),  # no zone: UTC; no end: until completed
    ("scheduled", "tomorrow", "2026-12-11T14:00:00Z", "unreadable"),
    ("scheduled", "2026-12-10T11:00:00Z", "soon", "unreadable"),
    ("scheduled", None, None, "unreadable"),
])
def test_window_state(status, starts, ends, state):
    assert window_state({"status": status, "scheduled_for": starts, "scheduled_until": ends}, NOON) == state


def test_an_unreadable_window_freezes_and_says_so(fake, run):
    maintenance(fake, "Mystery window", 24, 25)
    seed = fake.statuspage.state()
    seed["pages"][0]["incidents"][0]["scheduled_for"] = "next Tuesday"
    fake.statuspage.load(seed)

    result = run(statuspage_incident_info, args(fake))

    assert result["freeze"] is True and len(result["active_maintenances"]) == 1
    assert result["freeze_reasons"] == [
        f'Maintenance "Mystery window" is scheduled, but its window (from next Tuesday until '
        f'{result["maintenances"][0]["scheduled_until"]}) cannot be read; counted as active.']


def backdate(fake, days_by_name):
    """Move incidents' creation (and last update) back by some days, as if they had been opened then."""
    state = fake.statuspage.state()
    for incident in state["pages"][0]["incidents"]:
        if incident["name"] in days_by_name:
            moment = (NOW - datetime.timedelta(days=days_by_name[incident["name"]])).isoformat(timespec="milliseconds")
            incident.update(created_at=moment, updated_at=moment,
                            resolved_at=moment if incident["resolved_at"] else None)
    fake.statuspage.load(state)


def test_since_lists_the_incidents_of_the_window_newest_first_and_no_maintenance(fake, run):
    statuspage = client(fake)
    for name in ("Old and closed", "Yesterday", "This morning"):
        incident = statuspage.create_incident({"name": name})
        if name != "This morning":
            statuspage.update_incident(incident["id"], {"status": "resolved"})
    maintenance(fake, "Tonight's upgrade", 12, 13)
    backdate(fake, {"Old and closed": 3, "Yesterday": 0.5, "This morning": 0.1})

    result = run(statuspage_incident_info, args(fake, since=at(-24)))

    assert [incident["name"] for incident in result["recent"]] == ["This morning", "Yesterday"]
    assert result["recent"][1]["status"] == "resolved" and result["recent"][1]["resolved_at"]
    assert [incident["name"] for incident in result["unresolved"]] == ["This morning"]


def test_since_pages_back_only_a_week_before_the_window(fake, run):
    statuspage = client(fake)
    for number in range(150):
        statuspage.update_incident(statuspage.create_incident({"name": f"Old {number}"})["id"], {"status": "resolved"})
    statuspage.create_incident({"name": "Fresh"})
    backdate(fake, {f"Old {number}": 30 for number in range(150)})
    fake.statuspage.clear_requests()

    result = run(statuspage_incident_info, args(fake, since=at(-24)))

    assert [incident["name"] for incident in result["recent"]] == ["Fresh"]
    # The first page already reaches back more than a week: the second is never asked for.
    assert [r["query"].get("page") for r in fake.statuspage.requests() if r["path"].endswith("/incidents")] == ["1"]


@pytest.mark.parametrize("since", ["yesterday", "2026-12-04", ""])
def test_a_since_that_is_no_time_fails_before_any_request(fake, run, since):
    result = run(statuspage_incident_info, args(fake, since=since))

    assert result["failed"] is True and "since must be an ISO 8601 time" in result["msg"]
    assert fake.statuspage.requests() == []


def test_without_since_there_is_no_recent_listing(fake, run):
    assert "recent" not in run(statuspage_incident_info, args(fake))
