"""playbooks/awx_configure.yml against a fake AWX (tests/fakes/awx.py), through the real awx.awx modules: the
credential types and credentials of the services, the project, the inventory and its source, a job template with a
survey per playbook and a schedule per entry of the definition; a second run changes nothing, --check after a change
of the definition writes nothing, only the schedules the role made are ever removed, and what AWX would refuse is
refused before anything changes.

The secrets are in the environment, as on an operator's machine; they must reach the fake's credentials and appear
nowhere in the play's output, which is verbose.
"""
import datetime
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import pytest
import yaml
from dateutil.rrule import rrulestr

from ansible_collections.runbook.ops.plugins.filter.awx import awx_job_templates, awx_schedules
from ansible_collections.runbook.ops.plugins.filter.schedules import schedule_next_runs, schedule_plans
from tests.fakes.awx import AwxServer
from tests.integration.sandbox import REPO, Run

ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
TOKEN = "awx-oauth-token-7Kd2pQ9x"
SECRETS = {
    "VERCEL_TOKEN": "vercel-token-for-awx-Q8z1",
    "SLACK_INCIDENT_WEBHOOK": "https://hooks.slack.example/services/T1/B2/slack-secret-awx-Hj4",
    "SLACK_MAINTENANCE_WEBHOOK": "https://hooks.slack.example/services/T1/B3/slack-secret-awx-Mn5",
    "STATUS_PAGE_API_KEY": "statuspage-key-awx-Lr6",
    "PAGERDUTY_ROUTING_KEY": "pagerduty-routing-awx-Vb7",
    "DATABASE_URL": "postgresql://ops:db-secret-awx-Tc8@db.example:5432/shop",
}
NOT_SECRET = {"VERCEL_ORG_ID": "team_runbook01", "STATUS_PAGE_ID": "page-runbook01",
              "VERCEL_API_URL": "https://vercel-proxy.example"}
SERVICE_VARIABLES = {*SECRETS, *NOT_SECRET, "SLACK_DEPLOYMENT_WEBHOOK", "PAGERDUTY_API_TOKEN", "PAGERDUTY_EVENTS_URL",
                     "PAGERDUTY_API_URL", "STATUSPAGE_API_URL"}
DEFAULTS = yaml.safe_load((REPO / "roles/schedule/defaults/main/schedule.yml").read_text(encoding="utf-8"))
SURVEYS = yaml.safe_load((REPO / "roles/schedule/defaults/main/awx.yml").read_text(
    encoding="utf-8"))["schedule_awx_surveys"]
SCM_URL = "https://git.example/acme/webapp-runbook.git"
# The fake's clock: the schedules' next runs are computed after it.
NOW = "2026-05-01T00:00:00+00:00"
MARKER = "[runbook.ops]"
SEED = {
    "tokens": [{"id": 1, "token": TOKEN}],
    "organizations": [{"id": 1, "name": "Default"}],
    "project_playbooks": sorted(f"playbooks/{path.name}" for path in (REPO / "playbooks").glob("*.yml")),
    "now": NOW,
    # A template an earlier definition made, with a schedule of an entry since taken out, and a schedule someone
    # added by hand, which is not the role's to remove.
    "job_templates": [{"id": 90, "name": "runbook.ops maintenance", "organization": 1,
                       "playbook": "playbooks/maintenance.yml"}],
    "schedules": [
        {"id": 91, "name": "maintenance-hourly", "description": f"{MARKER} every hour", "unified_job_template": 90,
         "rrule": "DTSTART;TZID=Asia/Tokyo:20260101T000000 RRULE:FREQ=HOURLY;INTERVAL=1",
         "extra_data": {"maintenance_level": "daily"}},
        {"id": 92, "name": "someone-elses", "description": "Added by hand", "unified_job_template": 90,
         "rrule": "DTSTART;TZID=Asia/Tokyo:20260101T120000 RRULE:FREQ=WEEKLY;INTERVAL=1;BYDAY=MO",
         "extra_data": {"maintenance_level": "weekly"}},
    ],
}


@pytest.fixture
def awx():
    """A fake AWX with the Default organization and the leftovers of an earlier definition."""
    server = AwxServer(SEED).start()
    yield server
    server.stop()


def start(awx, *args, entries=None, env=None):
    """Start playbooks/awx_configure.yml against the fake; ``env`` adds variables, or removes those set to None."""
    variables = {"schedule_awx_scm_url": SCM_URL, "schedule_entries": entries or DEFAULTS["schedule_entries"]}
    environment = {name: value for name, value in os.environ.items()
                   if name not in SERVICE_VARIABLES and not name.startswith(("CONTROLLER_", "TOWER_"))}
    environment.update({"ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
                        "CONTROLLER_HOST": awx.url, "CONTROLLER_OAUTH_TOKEN": TOKEN, **SECRETS, **NOT_SECRET})
    environment.update(env or {})
    environment = {name: value for name, value in environment.items() if value is not None}
    return subprocess.Popen([str(ANSIBLE_PLAYBOOK), "-i", "inventories/sandbox", "playbooks/awx_configure.yml",
                             "-e", json.dumps(variables), *args],
                            cwd=REPO, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(started):
    output, _none = started.communicate(timeout=600)
    return Run(started.returncode, output)


def configure(awx, *args, entries=None, env=None):
    """Run playbooks/awx_configure.yml against the fake to its end."""
    return finish(start(awx, *args, entries=entries, env=env))


def entries_with(**changes):
    """The default definition, each named entry updated with its changes (None takes it out)."""
    entries = []
    for entry in DEFAULTS["schedule_entries"]:
        change = changes.get(entry["name"].replace("-", "_"), {})
        if change is not None:
            entries.append({**entry, **change})
    return entries


def expected(entries):
    plans = schedule_plans(entries, DEFAULTS["schedule_time_zone"])
    templates = awx_job_templates(SURVEYS, plans)
    return plans, templates, awx_schedules(plans, templates, MARKER)


def test_configure_makes_every_object_then_changes_nothing_and_check_mode_writes_nothing(awx):
    entries = entries_with(daily_check_evening={"enabled": False})
    plans, templates, schedules = expected(entries)

    run = configure(awx, "-vvv", entries=entries)

    assert run.rc == 0, run.output
    for secret in [*SECRETS.values(), TOKEN, "slack-secret-awx", "db-secret-awx"]:
        assert secret not in run.output

    # A credential type per service; a credential of each service the environment has settings for, with them.
    types = {t["name"]: t for t in awx.objects("credential_types")}
    assert set(types) == {f"runbook.ops {s}" for s in ("Vercel", "Slack", "Statuspage", "PagerDuty", "PostgreSQL")}
    assert types["runbook.ops Vercel"]["injectors"]["env"]["VERCEL_TOKEN"] == "{{ token }}"
    credentials = {c["name"]: c for c in awx.objects("credentials")}
    assert set(credentials) == set(types)
    vercel = awx.stored("credentials", credentials["runbook.ops Vercel"]["id"])
    assert vercel["inputs"] == {"token": SECRETS["VERCEL_TOKEN"], "team": "team_runbook01",
                                "api_url": "https://vercel-proxy.example"}
    assert credentials["runbook.ops Vercel"]["inputs"]["token"] == "$encrypted$"
    assert awx.stored("credentials", credentials["runbook.ops Slack"]["id"])["inputs"] == {
        "incident_webhook": SECRETS["SLACK_INCIDENT_WEBHOOK"], "maintenance_webhook": SECRETS["SLACK_MAINTENANCE_WEBHOOK"]}
    assert awx.stored("credentials", credentials["runbook.ops PostgreSQL"]["id"])["inputs"] == {
        "database_url": SECRETS["DATABASE_URL"]}

    # The project, and the inventory filled from the project's folder.
    project = awx.find("projects", "runbook.ops")
    assert (project["scm_type"], project["scm_url"], project["scm_branch"], project["organization"]) == \
        ("git", SCM_URL, "main", 1)
    inventory = awx.find("inventories", "runbook.ops production")
    source = awx.find("inventory_sources", "runbook.ops production from the project")
    assert (source["inventory"], source["source"], source["source_project"], source["source_path"]) == \
        (inventory["id"], "scm", project["id"], "inventories/production")

    # A template per playbook, with its survey, and every runbook credential attached.
    assert {t["name"] for t in awx.objects("job_templates")} == {t["name"] for t in templates}
    for template in templates:
        made = awx.find("job_templates", template["name"])
        stored = awx.stored("job_templates", made["id"])
        assert (made["playbook"], made["project"], made["inventory"]) == \
            (template["playbook"], project["id"], inventory["id"])
        assert stored["survey_spec"] == template["survey_spec"]
        # A survey covers the choices of every playbook it has questions for; nothing else is taken then.
        assert (made["survey_enabled"], made["ask_variables_on_launch"]) == \
            ((True, False) if template["playbook_name"] in SURVEYS else (False, True))
        assert sorted(stored["credentials"]) == sorted(c["id"] for c in credentials.values())
    rollback = awx.stored("job_templates", awx.find("job_templates", "runbook.ops rollback")["id"])
    confirm = next(q for q in rollback["survey_spec"]["spec"] if q["variable"] == "rollback_confirm")
    assert (confirm["type"], confirm["choices"], confirm["default"]) == ("multiplechoice", ["false", "true"], "false")

    # A schedule per entry, with its rule and variables, and an answer to every required question.
    made = {s["name"]: s for s in awx.objects("schedules")}
    assert set(made) == {p["name"] for p in plans} | {"someone-elses"}
    assert made["someone-elses"]["description"] == "Added by hand"
    for schedule in schedules:
        found = made[schedule["name"]]
        assert found["summary_fields"]["unified_job_template"]["name"] == schedule["template"]
        assert (found["rrule"], found["extra_data"], found["enabled"]) == \
            (schedule["rrule"], schedule["extra_data"], schedule["enabled"])
        assert found["description"].startswith(MARKER)
    assert made["maintenance-monthly"]["extra_data"] == {"maintenance_level": "monthly"}
    assert made["daily-check-evening"]["enabled"] is False

    # The next runs, read from the stored rule as AWX reads it, are the definition's.
    for entry in plans:
        rule = rrulestr(made[entry["name"]]["rrule"], forceset=True)
        moment, runs = datetime.datetime.fromisoformat(NOW), []
        while len(runs) < 6:
            moment = rule.after(moment)
            runs.append(moment.isoformat(timespec="minutes"))
        assert runs == schedule_next_runs(entry, 6, NOW), entry["name"]
        first = datetime.datetime.fromisoformat(runs[0]).astimezone(datetime.timezone.utc)
        assert made[entry["name"]]["next_run"] == first.strftime("%Y-%m-%dT%H:%M:%SZ")

    # Again, nothing changes; and a changed definition in check mode reports its changes. Neither writes anything,
    # so the two run side by side.
    awx.clear_requests()
    before = awx.state()
    changed = entries_with(maintenance_weekly=None, daily_check_morning={"at": "08:30"},
                           maintenance_daily={"enabled": False})
    started = [start(awx, entries=entries),
               start(awx, "--check", entries=changed, env={"PAGERDUTY_API_TOKEN": "pagerduty-api-token-awx-Xy9"})]
    again, checked = [finish(run) for run in started]
    assert again.rc == 0, again.output
    assert again.changed == 0, again.output
    assert checked.rc == 0, checked.output
    assert checked.changed > 0
    assert "changed: [localhost] => (item=runbook.ops daily_check: daily-check-morning)" in checked.output
    assert "changed: [localhost] => (item=runbook.ops maintenance: maintenance-weekly)" in checked.output
    assert awx.writes() == []
    assert awx.state() == before
    assert "pagerduty-api-token-awx-Xy9" not in checked.output


def test_a_definition_awx_would_refuse_changes_nothing(awx):
    entries = [*DEFAULTS["schedule_entries"],
               {"name": "rollback-drill", "playbook": "rollback", "at": "04:00", "weekday": "saturday",
                "vars": {"rollback_type": "application"}}]

    run = configure(awx, entries=entries)

    assert run.rc != 0
    assert "Schedule 'rollback-drill' (playbook rollback) must give rollback_reason" in run.output
    assert awx.requests() == []


def test_a_service_whose_settings_are_given_only_in_part_is_refused_first(awx):
    run = configure(awx, env={"STATUS_PAGE_ID": None})

    assert run.rc != 0
    assert "not STATUS_PAGE_ID" in run.output
    assert SECRETS["STATUS_PAGE_API_KEY"] not in run.output
    assert awx.writes() == []


# ----- the fake refuses what AWX refuses ----------------------------------------------------------------------
def call(awx, method, path, body=None, token=TOKEN):
    request = urllib.request.Request(awx.url + path, method=method, data=json.dumps(body).encode() if body else None,
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {token}"} if token else {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            text = answer.read()
            return answer.status, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


@pytest.fixture
def template(awx):
    """A job template of the fake's own, with its project and inventory, made through the API."""
    project = call(awx, "POST", "/api/v2/projects/",
                   {"name": "p", "organization": 1, "scm_type": "git", "scm_url": SCM_URL})[1]
    inventory = call(awx, "POST", "/api/v2/inventories/", {"name": "i", "organization": 1})[1]
    status, made = call(awx, "POST", "/api/v2/job_templates/", {
        "name": "t", "organization": 1, "project": project["id"], "inventory": inventory["id"],
        "playbook": "playbooks/maintenance.yml", "survey_enabled": True})
    assert status == 201, made
    spec = {"name": "", "description": "", "spec": [
        {"question_name": "Level", "variable": "maintenance_level", "type": "multiplechoice", "required": True,
         "choices": ["daily", "weekly"]}]}
    assert call(awx, "POST", f"/api/v2/job_templates/{made['id']}/survey_spec/", spec)[0] == 200
    return made


@pytest.mark.parametrize("question, error", [
    ({"question_name": "Level", "variable": "level", "type": "multiplechoice", "required": True, "choices": ["a"],
      "default": "b"}, "Default choice must be answered from the choices listed."),
    ({"question_name": "Level", "variable": "level", "type": "multiplechoice", "required": True},
     "Survey question 0 of type multiplechoice must specify choices."),
    ({"question_name": "Level", "variable": "level", "type": "select", "required": True},
     "'select' in survey question 0 is not one of 'text, textarea, password, multiplechoice, multiselect, integer, "
     "float' allowed question types."),
    ({"question_name": "Level", "variable": "level", "type": "text", "required": "yes"},
     "'required' in survey question 0 expected to be boolean."),
    ({"question_name": "Days", "variable": "days", "type": "integer", "required": False, "default": "7"},
     "Default value 7 in survey question 0 expected to be integer."),
])
def test_the_fake_refuses_a_survey_awx_refuses(awx, template, question, error):
    status, body = call(awx, "POST", f"/api/v2/job_templates/{template['id']}/survey_spec/",
                        {"name": "", "description": "", "spec": [question]})

    assert (status, body) == (400, {"error": error})


@pytest.mark.parametrize("rrule, error", [
    ("DTSTART;TZID=Asia/Tokyo:20260101T010000 RRULE:FREQ=MONTHLY;INTERVAL=1;BYDAY=1SU",
     "BYDAY with numeric prefix not supported: RULE:FREQ=MONTHLY;INTERVAL=1;BYDAY=1SU"),
    ("DTSTART;TZID=Asia/Tokyo:20260101T010000 RRULE:FREQ=DAILY", "INTERVAL required in rrule: RULE:FREQ=DAILY"),
    ("DTSTART:20260101T010000 RRULE:FREQ=DAILY;INTERVAL=1",
     "DTSTART cannot be a naive datetime.  Specify ;TZINFO= or YYYYMMDDTHHMMSSZZ."),
    ("DTSTART:20260101T010000Z RRULE:FREQ=DAILY;INTERVAL=1;COUNT=1000",
     "COUNT > 999 is unsupported: RULE:FREQ=DAILY;INTERVAL=1;COUNT=1000"),
])
def test_the_fake_refuses_a_rule_awx_refuses(awx, template, rrule, error):
    status, body = call(awx, "POST", f"/api/v2/job_templates/{template['id']}/schedules/",
                        {"name": "s", "rrule": rrule, "extra_data": {"maintenance_level": "daily"}})

    assert status == 400
    assert error in body["rrule"]


def test_the_fake_refuses_a_schedule_the_survey_refuses(awx, template):
    rule = "DTSTART;TZID=Asia/Tokyo:20260101T030000 RRULE:FREQ=DAILY;INTERVAL=1"
    path = f"/api/v2/job_templates/{template['id']}/schedules/"

    assert call(awx, "POST", path, {"name": "s", "rrule": rule})[1] == {
        "variables_needed_to_start": ["'maintenance_level' value missing"]}
    assert call(awx, "POST", path, {"name": "s", "rrule": rule, "extra_data": {"maintenance_level": "hourly"}})[1] == {
        "variables_needed_to_start": ["Value hourly for 'maintenance_level' expected to be one of ['daily', 'weekly']."]}
    status, body = call(awx, "POST", path, {"name": "s", "rrule": rule,
                                            "extra_data": {"maintenance_level": "daily", "other": 1}, "timeout": 60})
    assert status == 400
    assert body["timeout"] == ["Field is not configured to prompt on launch."]
    assert body["extra_data"][0].startswith("Variables other are not allowed on launch.")
    assert call(awx, "POST", path, {"name": "s", "rrule": rule, "extra_data": {"maintenance_level": "daily"}})[0] == 201
    assert call(awx, "POST", path, {"name": "s", "rrule": rule, "extra_data": {"maintenance_level": "daily"}})[1] == {
        "__all__": ["Schedule with this Name and Unified job template already exists."]}


def test_the_fake_signs_in_pages_and_filters_as_awx_does(awx):
    assert call(awx, "GET", "/api/v2/schedules/", token=None)[0] == 401
    assert call(awx, "GET", "/api/v2/schedules/", token="wrong")[0] == 401
    assert call(awx, "GET", "/api/v2/ping/", token=None)[0] == 200

    first = call(awx, "GET", "/api/v2/schedules/?page_size=1")[1]
    second = call(awx, "GET", first["next"])[1]
    assert (first["count"], [s["id"] for s in first["results"]], first["previous"]) == (2, [91], None)
    assert ([s["id"] for s in second["results"]], second["next"]) == ([92], None)
    marked = call(awx, "GET", "/api/v2/schedules/?" + urlencode({"description__startswith": MARKER}))[1]
    assert [s["id"] for s in marked["results"]] == [91]
    assert call(awx, "GET", "/api/v2/schedules/?colour=red")[0] == 400
