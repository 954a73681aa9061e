"""playbooks/incident.yml, each action in runs of its own, against the fakes and a real PostgreSQL."""
import json
import re
import tarfile

import pytest

from tests.integration.conftest import PAGERDUTY_ROUTING_KEY, PAGERDUTY_TOKEN, STATUSPAGE_KEY
from tests.integration.sandbox import INCIDENT_HOOK, TOKEN
from tests.postgres_cluster import PASSWORD

SECRETS = [TOKEN, STATUSPAGE_KEY, PAGERDUTY_ROUTING_KEY, PAGERDUTY_TOKEN, PASSWORD, INCIDENT_HOOK.rsplit("/", 1)[-1]]
ID = re.compile(r"INC-\d{8}-\d{6}")


def page(fake):
    return fake.statuspage.state()["pages"][0]


def incidents(fake):
    return page(fake)["incidents"]


def components(fake):
    return {component["name"]: component["status"] for component in page(fake)["components"]}


def statuspage_writes(fake):
    return [r for r in fake.statuspage.requests() if r["method"] not in ("GET", "HEAD")]


def public_statuspage_writes(fake):
    """Writes customers could see: all but the copies of the timeline in the incident's metadata."""
    bookkeeping = {"metadata", "deliver_notifications"}
    return [r for r in statuspage_writes(fake) if not set((r["body"] or {}).get("incident", {})) <= bookkeeping]


def alerts(fake):
    return fake.pagerduty.state().get("alerts", [])


def events(fake):
    return fake.pagerduty.state().get("events", [])


def slack_messages(fake):
    return fake.slack.state()["messages"]


def slack_text(message):
    payload = message["payload"]
    return payload.get("text") or "".join(a.get("text", "") for a in payload.get("attachments", []))


def nothing_sent(fake):
    return not statuspage_writes(fake) and not fake.pagerduty.requests() and not slack_messages(fake)


def declared_id(run):
    assert run.rc == 0, run.output
    return run.record["incident_id"]


def declare(incident, severity="P1", **variables):
    return incident(**{"incident_action": "declare", "incident_severity": severity, "incident_title": "Checkout fails",
                       "incident_description": "Payments answer 500 since 14:02", **variables})


def test_declare_update_and_resolve_from_different_machines_find_the_same_incident(fake, incident, tmp_path):
    incident_id = declared_id(declare(incident, machine="laptop"))
    assert ID.fullmatch(incident_id)
    [opened] = incidents(fake)
    assert opened["name"] == f"[{incident_id}] Checkout fails" and opened["impact"] == "critical"
    assert components(fake)["Checkout"] == "major_outage"
    [alert] = alerts(fake)
    assert alert["dedup_key"] == incident_id and alert["status"] == "triggered"
    assert alert["severity"] == "critical"
    [alerted] = slack_messages(fake)
    assert alerted["payload"]["attachments"][0]["color"] == "#d32f2f" and incident_id in slack_text(alerted)

    # Another machine: no local timeline, only the ID.
    update = incident(incident_action="update", incident_id=incident_id, incident_status="identified",
                      incident_message="A bad deploy; rolling back", machine="awx-node-1")
    assert update.rc == 0, update.output
    [opened] = incidents(fake)
    assert opened["status"] == "identified"
    assert opened["incident_updates"][0]["body"] == "A bad deploy; rolling back"
    assert alerts(fake)[0]["status"] == "acknowledged"

    resolve = incident(incident_action="resolve", incident_id=incident_id, incident_message="Rolled back.",
                       machine="awx-node-2")
    assert resolve.rc == 0, resolve.output
    [resolved] = incidents(fake)
    assert resolved["status"] == "resolved" and set(components(fake).values()) == {"operational"}
    [alert] = alerts(fake)
    assert alert["status"] == "resolved" and len(fake.pagerduty.state()["incidents"]) == 1
    assert len(slack_messages(fake)) == 3 and "Postmortem draft" in slack_text(slack_messages(fake)[-1])

    # The postmortem, written on the third machine, has the whole timeline from the Statuspage's copy.
    postmortem = (tmp_path / "awx-node-2" / "incidents" / f"{incident_id}-postmortem.md").read_text(encoding="utf-8")
    assert "| Severity | P1 (Critical) |" in postmortem and "Postmortem due" in postmortem
    rows = [line for line in postmortem.splitlines() if re.match(r"\| \d{4}-\d\d-\d\d ", line)]
    assert [row.split(" | ")[1] for row in rows] == ["declare", "update (identified)", "resolve"]
    assert resolve.record["result"] == "succeeded" and resolve.record["channels"]["pagerduty"]["result"] == "resolved"


def test_a_p3_pages_no_one(fake, incident):
    run = declare(incident, severity="P3")
    assert declared_id(run)
    assert not fake.pagerduty.requests() and len(incidents(fake)) == 1
    assert slack_messages(fake)[0]["payload"]["attachments"][0]["color"] == "#f9a825"
    assert run.record["channels"]["pagerduty"]["result"] == "not paged (P3)"


def test_declaring_again_with_the_same_id_creates_nothing_new(fake, incident):
    incident_id = declared_id(declare(incident))
    again = declare(incident, incident_id=incident_id, machine="b")
    assert again.rc == 0, again.output
    assert len(incidents(fake)) == 1 and len(alerts(fake)) == 1 and len(slack_messages(fake)) == 1
    assert [r["method"] for r in statuspage_writes(fake)].count("POST") == 1
    assert again.record["channels"]["slack"]["result"] == "sent already"
    assert again.record["channels"]["pagerduty"]["result"] == "already open"


@pytest.mark.parametrize("status", [420, 429])
def test_statuspage_rate_limiting_is_ridden_out(fake, incident, status):
    # The first three requests are refused, whichever they are; the run waits as told and goes on.
    fake.statuspage.add_faults([{"action": "status", "status": status, "headers": {"Retry-After": "1"}, "times": 3}])
    run = declare(incident)
    assert declared_id(run) and len(incidents(fake)) == 1
    assert not fake.statuspage.faults()
    assert run.record["channels"]["statuspage"]["result"] == "created"


def test_slack_down_still_declares_and_a_rerun_sends_only_the_alert(fake, incident):
    fake.slack.add_faults([{"action": "status", "status": 500, "times": 20}])
    run = declare(incident)
    incident_id = declared_id(run)
    assert len(incidents(fake)) == 1 and len(alerts(fake)) == 1 and not slack_messages(fake)
    assert run.record["channels"]["slack"]["result"] == "failed"
    assert "slack failed (Slack webhook: POST" in run.output and f"incident_id={incident_id}" in run.output

    fake.slack.clear_faults()
    again = declare(incident, incident_id=incident_id)
    assert again.rc == 0, again.output
    assert len(slack_messages(fake)) == 1 and len(incidents(fake)) == 1 and len(alerts(fake)) == 1


def test_pagerduty_down_declares_the_rest_and_says_it_is_partial(fake, incident):
    fake.pagerduty.add_faults([{"action": "status", "status": 400, "path": "^/v2/enqueue$", "times": 5}])
    run = declare(incident)
    assert run.rc != 0 and "partial" in run.output
    assert len(incidents(fake)) == 1 and len(slack_messages(fake)) == 1
    assert run.record["result"] == "partial" and run.record["channels"]["pagerduty"]["result"] == "failed"
    assert f"Run declare again with incident_id={run.record['incident_id']}" in run.output


@pytest.mark.parametrize("variables, complaint", [
    ({"incident_action": "declare", "incident_severity": "P5", "incident_title": "x"}, "incident_severity must be one of"),
    ({"incident_action": "declare", "incident_severity": "P1", "incident_title": "  "}, "incident_title is empty"),
    ({"incident_action": "update", "incident_id": "INC-20261204-000000", "incident_status": "identified",
      "incident_message": "x"}, "is unknown"),
    ({"incident_action": "update", "incident_id": "INC-1", "incident_status": "identified", "incident_message": "x"},
     "must look like INC-YYYYmmdd-HHMMSS"),
    ({"incident_action": "update", "incident_id": "INC-20261204-000000", "incident_status": "fixed",
      "incident_message": "x"}, "incident_status must be"),
    ({"incident_action": "resolve"}, "incident_id is required"),
    ({"incident_action": "escalate"}, "incident_action"),
])
def test_bad_input_fails_before_anything_is_sent(fake, incident, variables, complaint):
    run = incident(**variables)
    assert run.rc != 0 and complaint in run.output
    assert nothing_sent(fake)


def test_health_gives_one_verdict_per_check(fake, incident):
    run = incident(incident_action="health")
    assert run.rc == 0, run.output
    detail = run.record["detail"]
    assert detail["healthy"] is True
    assert detail["verdicts"] == {"api": "pass", "response_time": "pass", "front": "pass", "database": "pass",
                                  "tls": "skipped"}


def test_health_fails_when_the_api_and_the_database_fail(fake, incident):
    fake.health.set_mode("fail")
    run = incident("-e", "incident_id_confirmed=true", incident_action="health",
                   env={"DATABASE_URL": "postgresql://runbook:wrong-password@127.0.0.1:1/shop"})
    assert run.rc != 0 and run.record["result"] == "unhealthy"
    verdicts = run.record["detail"]["verdicts"]
    assert verdicts["api"] == "fail" and verdicts["database"] == "fail" and verdicts["response_time"] == "skipped"


def test_diagnostics_bundle_is_named_after_the_incident_and_holds_no_secret(fake, incident, tmp_path):
    incident_id = declared_id(declare(incident))
    run = incident(incident_action="diagnostics", incident_id=incident_id)
    assert run.rc == 0, run.output
    [bundle] = (tmp_path / "a" / "diagnostics").glob(f"{incident_id}-diagnostics-*.tar.gz")
    assert run.record["detail"]["bundle"] == str(bundle)
    with tarfile.open(bundle) as archive:
        names = {member.name.split("/", 1)[1]: archive.extractfile(member).read().decode() for member in archive}
    assert {"summary.json", "vercel/deployments.json", "database/stats.json", "ops/localhost/system.txt",
            "ops/localhost/journal-errors.txt"} <= set(names)
    assert json.loads(names["vercel/deployments.json"])["deployments"]
    assert "max_connections" in json.loads(names["database/stats.json"])["connections"]
    assert "uptime" in names["ops/localhost/system.txt"]
    assert set(run.record["detail"]["contents"]) == set(names)
    for text in names.values():
        assert not any(secret in text for secret in SECRETS)


def test_no_secret_in_any_output_or_file_at_the_highest_verbosity(fake, incident, tmp_path):
    incident_id = declared_id(declare(incident))
    runs = [incident("-vvvv", incident_action=action, incident_id=incident_id, incident_status="monitoring",
                     incident_message="Watching")
            for action in ("update", "health", "diagnostics", "resolve")]
    assert [run.rc for run in runs] == [0, 0, 0, 0], [run.output[-3000:] for run in runs if run.rc]
    outputs = [run.output for run in runs]
    written = [path.read_bytes() for path in tmp_path.rglob("*") if path.is_file() and not path.name.endswith(".gz")]
    for bundle in tmp_path.rglob("*.tar.gz"):
        with tarfile.open(bundle) as archive:
            written += [archive.extractfile(member).read() for member in archive if member.isfile()]
    assert written and len(outputs) == 4
    for secret in SECRETS:
        assert not any(secret in output for output in outputs), secret
        assert not any(secret.encode() in data for data in written), secret


def test_the_notices_and_the_postmortem_come_in_japanese(fake, incident, tmp_path):
    incident_id = declared_id(declare(incident, runbook_language="ja"))
    resolved = incident(incident_action="resolve", incident_id=incident_id, runbook_language="ja")
    assert resolved.rc == 0, resolved.output
    declared, closed = (slack_text(message) for message in slack_messages(fake))
    assert "P1 インシデント発生: Checkout fails" in declared and "15 分以内に対応" in declared
    assert f"インシデント {incident_id} 解決" in closed and "ポストモーテム下書き" in closed
    postmortem = (tmp_path / "a" / "incidents" / f"{incident_id}-postmortem.md").read_text(encoding="utf-8")
    assert postmortem.startswith("# ポストモーテム（下書き）: Checkout fails") and "| 重大度 | P1 (Critical) |" in postmortem


def test_a_secret_typed_into_a_message_never_leaves(fake, incident, postgres):
    # The DSN of DATABASE_URL itself, and the same credentials for another database.
    other = postgres.dsn.rsplit("/", 1)[0] + "/shop"
    run = declare(incident, incident_description=f"app log: could not connect {postgres.dsn}, nor {other}")
    assert declared_id(run)
    sent = json.dumps([fake.statuspage.state(), fake.pagerduty.state(), fake.slack.state()])
    assert PASSWORD not in sent and "could not connect ********, nor postgresql://" in sent


def test_a_failed_page_is_said_in_slack_and_the_retry_that_pages_says_so_again(fake, incident):
    fake.pagerduty.add_faults([{"action": "status", "status": 400, "path": "^/v2/enqueue$", "times": 5}])
    incident_id = declare(incident).record["incident_id"]
    assert "Page the on-call engineer by hand" in slack_text(slack_messages(fake)[0])

    fake.pagerduty.clear_faults()
    again = declare(incident, incident_id=incident_id)
    assert again.rc == 0, again.output
    assert len(alerts(fake)) == 1 and len(incidents(fake)) == 1
    assert [("Paged: yes" in slack_text(message)) for message in slack_messages(fake)] == [False, True]


@pytest.mark.parametrize("variables, complaint", [
    ({"incident_components": {"Chekout": "major_outage"}}, "Chekout"),
    ({"incident_components": {"Checkout": "on_fire"}}, "incident_components must map"),
    ({"incident_severities": {"P1": {"name": "Critical", "color": "#d32f2f", "slack_channels": "SLACK_INCIDENT_WEBHOOK",
                                     "statuspage": True, "statuspage_impact": "huge", "statuspage_components": {},
                                     "page": True, "pagerduty_severity": "urgent", "response_minutes": 15}}},
     "incident_severities.P1.slack_channels must list"),
    ({"incident_severities": {"P1": {"name": "Critical"}}}, "incident_severities.P1 lacks color, slack_channels"),
    ({"incident_audit_dir": "/proc/version/audit"}, "The record cannot be written"),
    ({"incident_id": "INC-20261204-000001"}, "to declare a new incident, leave incident_id empty"),
])
def test_a_declaration_that_cannot_go_through_is_refused_before_anyone_is_paged(fake, incident, variables, complaint):
    run = declare(incident, **variables)
    assert run.rc != 0 and complaint in run.output
    assert nothing_sent(fake) or not [r for r in fake.pagerduty.requests() if r["method"] == "POST"]
    assert not incidents(fake) and not slack_messages(fake)


def test_components_given_as_text_like_an_awx_survey_answer_are_read(fake, incident):
    assert declared_id(declare(incident, severity="P3", incident_components='{"API": "partial_outage"}'))
    assert components(fake)["API"] == "partial_outage" and components(fake)["Website"] == "operational"


def test_after_resolve_an_update_is_refused_and_a_second_resolve_sends_nothing(fake, incident):
    incident_id = declared_id(declare(incident))
    assert incident(incident_action="resolve", incident_id=incident_id).rc == 0
    sent = (len(public_statuspage_writes(fake)), len(events(fake)), len(slack_messages(fake)))

    update = incident(incident_action="update", incident_id=incident_id, incident_status="identified",
                      incident_message="back?")
    assert update.rc != 0 and "was resolved already" in update.output
    again = incident(incident_action="resolve", incident_id=incident_id, incident_message="Really resolved")
    assert again.rc == 0 and "resolved already" in again.output
    assert (len(public_statuspage_writes(fake)), len(events(fake)), len(slack_messages(fake))) == sent
    assert incidents(fake)[0]["status"] == "resolved"


def test_health_with_an_id_nobody_knows_is_refused(fake, incident):
    run = incident(incident_action="health", incident_id="INC-20261204-000002")
    assert run.rc != 0 and "is unknown" in run.output and not run.audit[0]["channels"]


def test_a_resolve_in_another_time_zone_keeps_the_declared_time(fake, incident, tmp_path):
    incident_id = declared_id(declare(incident))
    run = incident(incident_action="resolve", incident_id=incident_id, incident_time_zone="UTC", machine="b")
    assert run.rc == 0, run.output
    assert 0 <= run.record["detail"]["duration_s"] < 600
    postmortem = (tmp_path / "b" / "incidents" / f"{incident_id}-postmortem.md").read_text(encoding="utf-8")
    assert "+09:00 |" in postmortem.split("| Declared |", 1)[1].splitlines()[0]


def test_a_title_that_mentions_another_incident_does_not_take_it_over(fake, incident):
    first = declared_id(declare(incident, severity="P2"))
    second = declared_id(declare(incident, severity="P3", incident_title=f"Slow search, maybe related to [{first}]"))
    update = incident(incident_action="update", incident_id=first, incident_status="identified",
                      incident_message="Bad deploy")
    assert update.rc == 0, update.output
    by_name = {item["name"]: item for item in incidents(fake)}
    assert by_name[f"[{first}] Checkout fails"]["status"] == "identified"
    assert by_name[f"[{second}] Slow search, maybe related to [{first}]"]["status"] == "investigating"
    assert alerts(fake)[0]["status"] == "acknowledged"


def test_a_resolve_resolves_the_page_even_when_the_severity_no_longer_pages(fake, incident):
    incident_id = declared_id(declare(incident, severity="P2"))
    settings = {"P2": {"name": "High", "color": "#d32f2f", "slack_channels": ["SLACK_INCIDENT_WEBHOOK"],
                       "statuspage": True, "statuspage_impact": "major", "statuspage_components": {},
                       "page": False, "pagerduty_severity": "error", "response_minutes": 60}}
    run = incident(incident_action="resolve", incident_id=incident_id, incident_severities=settings, machine="b")
    assert run.rc == 0, run.output
    assert alerts(fake)[0]["status"] == "resolved"


def test_a_declaration_cannot_be_completed_with_another_severity(fake, incident):
    incident_id = declared_id(declare(incident, severity="P4", incident_title="Minor glitch"))
    run = declare(incident, severity="P1", incident_id=incident_id)
    assert run.rc != 0 and "was declared as P4, not P1" in run.output
    assert not fake.pagerduty.requests()


def test_an_application_log_is_bundled_masked_and_never_shown(fake, incident, tmp_path, postgres):
    log = tmp_path / "app.log"
    log.write_text(f"12:00 db error connecting to {postgres.dsn}\n12:01 Authorization: Bearer {TOKEN}\n",
                   encoding="utf-8")
    run = incident("-v", incident_action="diagnostics", diagnostics_app_log=str(log))
    assert run.rc == 0, run.output
    assert PASSWORD not in run.output and TOKEN not in run.output
    [bundle] = (tmp_path / "a" / "diagnostics").glob("diagnostics-*.tar.gz")
    with tarfile.open(bundle) as archive:
        [member] = [m for m in archive if m.name.endswith("ops/localhost/app-log.txt")]
        text = archive.extractfile(member).read().decode()
    assert "12:01 Authorization: Bearer ********" in text and "db error connecting to ********" in text
