"""playbooks/semaphore_configure.yml against a fake Semaphore UI: the schedule definition becomes one task template,
one cron schedule per entry and one environment holding the secrets; a second run changes nothing, --check changes
nothing, the role removes only what it made, and what it refuses it refuses before anything changes.

Three of the runbook's entries stand for the definition (a daily one, one with a week rule, an hourly one): every
playbook run costs seconds per template, and every default entry's cron line is checked, without Semaphore, in
tests/unit/test_semaphore_cron.py.

The secrets are given in the environment, as on an operator's machine; they must reach the fake's environment
secrets and appear nowhere else: not in the play's output (the first run is verbose), not in the request bodies
the play writes, not in the fake's request log beyond the one request that sets them.
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ansible_collections.runbook.ops.plugins.filter.schedules import schedule_plans
from tests.fakes.semaphore import SemaphoreServer
from tests.integration.sandbox import REPO, Run

ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
TOKEN = "semaphore-api-token-4f9c2e1b7a"
PROJECT = 1
ENVIRONMENT = 60  # of the lifecycle test, made earlier by hand
SECRETS = {
    "VERCEL_TOKEN": "vercel-secret-token-8HqP2x",
    "DATABASE_URL": "postgresql://ops:db-secret-Zr7k@db.example:5432/shop",
    "SLACK_MAINTENANCE_WEBHOOK": "https://hooks.slack.example/services/T1/B2/slack-secret-Wm3d",
}
NOT_SECRET = {"VERCEL_ORG_ID": "team_runbook01", "STATUS_PAGE_ID": "page-runbook01"}
DEFAULTS = yaml.safe_load((REPO / "roles/schedule/defaults/main/schedule.yml").read_text(encoding="utf-8"))
SECRET_NAMES = yaml.safe_load((REPO / "roles/schedule/defaults/main/semaphore.yml").read_text(
    encoding="utf-8"))["schedule_semaphore_secrets"]
SEED = {
    "tokens": {TOKEN: 1},
    "users": [{"id": 1, "name": "ops"}],
    "projects": [{"id": PROJECT, "name": "runbook-ops", "users": {"1": "owner"}},
                 {"id": 2, "name": "other", "users": {"1": "owner"}}],
    "keys": [{"id": 10, "project_id": PROJECT, "name": "None", "type": "none"},
             {"id": 11, "project_id": PROJECT, "name": "vault password", "type": "login_password"}],
    "repositories": [{"id": 20, "project_id": PROJECT, "name": "runbook-ops", "git_url": "https://git.example/ops.git",
                      "git_branch": "main", "ssh_key_id": 10}],
    "inventories": [{"id": 30, "project_id": PROJECT, "name": "production", "type": "file",
                     "inventory": "inventories/production", "ssh_key_id": 10}],
    # Someone's own template, and a template of the same name as an entry in another project: neither is the role's.
    "templates": [{"id": 40, "project_id": PROJECT, "name": "deploy-by-hand", "playbook": "playbooks/deploy.yml",
                   "inventory_id": 30, "repository_id": 20, "description": "Made by hand", "app": "ansible"},
                  {"id": 41, "project_id": 2, "name": "maintenance-daily", "playbook": "site.yml",
                   "description": "Another project's", "app": "ansible"}],
    "schedules": [{"id": 50, "project_id": PROJECT, "template_id": 40, "cron_format": "0 12 * * 1",
                   "name": "deploy-monday", "active": True}],
}
ENTRIES = [entry for entry in DEFAULTS["schedule_entries"]
           if entry["name"] in ("maintenance-daily", "maintenance-monthly", "daily-check-hourly")]
SMALL = [
    {"name": "maintenance-monthly", "playbook": "maintenance", "at": "01:00", "weekday": "sunday", "week": "first",
     "vars": {"maintenance_level": "monthly"}},
    {"name": "daily-check-morning", "playbook": "daily_check", "at": "09:00", "vars": {"daily_check_phase": "morning"}},
]


@pytest.fixture
def semaphore():
    server = SemaphoreServer(SEED).start()
    yield server
    server.stop()


@pytest.fixture
def configure(semaphore, tmp_path):
    """Run the play against this test's fake, its request bodies written to ``tmp_path / 'export'``."""
    def run(*args, env=None, **extra_vars):
        environment = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
                       "SEMAPHORE_URL": semaphore.url, "SEMAPHORE_API_TOKEN": TOKEN, **SECRETS, **NOT_SECRET,
                       **(env or {})}
        variables = {"schedule_semaphore_export_dir": str(tmp_path / "export"), "schedule_semaphore_retry_delay": 0,
                     **extra_vars}
        done = subprocess.run([str(ANSIBLE_PLAYBOOK), "-i", "inventories/sandbox", "playbooks/semaphore_configure.yml",
                               "-e", json.dumps(variables), *args],
                              cwd=REPO, env={k: v for k, v in environment.items() if v is not None},
                              capture_output=True, text=True, timeout=300, check=False)
        return Run(done.returncode, done.stdout + done.stderr)

    return run


def mine(semaphore, kind):
    """The project's objects of a kind, by name, without what the seed put there."""
    seeded = {item["id"] for item in SEED.get(kind, [])}
    return {item["name"]: item for item in semaphore.state()[kind]
            if item["project_id"] == PROJECT and item["id"] not in seeded}


def stored_secrets(semaphore):
    """The secrets of the role's environment, by name: their type and value."""
    return {s["name"]: (s["type"], s["secret"]) for s in semaphore.state()["secrets"]
            if s["environment_id"] == ENVIRONMENT}


def writes(semaphore):
    return [(r["method"], r["path"]) for r in semaphore.requests() if r["method"] != "GET"]


def exported(tmp_path):
    return {path.name: path.read_text(encoding="utf-8") for path in sorted((tmp_path / "export").glob("*.json"))}


def run_vars(template):
    """The variables a template gives its runs: its arguments are ["-e", "<JSON>"]."""
    flag, variables = json.loads(template["arguments"])
    assert flag == "-e"
    return json.loads(variables)


def assert_no_secret(*texts):
    for text in texts:
        for secret in [TOKEN, *SECRETS.values()]:
            assert secret not in text


def test_the_definition_becomes_templates_schedules_and_an_environment(semaphore, configure, tmp_path):
    plans = schedule_plans(ENTRIES, DEFAULTS["schedule_time_zone"])
    options = {"schedule_semaphore_vault_key": "vault password",
               "schedule_semaphore_settings": {"vercel_project": "shop"}}
    # An environment of the role's name made earlier by hand: a secret of the wrong type (an extra variable, not an
    # environment variable), and one the role does not know, which it leaves alone.
    semaphore.load({**SEED, "environments": [{"id": ENVIRONMENT, "project_id": PROJECT, "name": "runbook-ops",
                                              "json": '{"vercel_project": "old"}', "env": "{}", "password": None}],
                    "secrets": [{"id": 61, "project_id": PROJECT, "environment_id": ENVIRONMENT,
                                 "name": "DATABASE_URL", "type": "var", "secret": "postgresql://old"},
                                {"id": 62, "project_id": PROJECT, "environment_id": ENVIRONMENT,
                                 "name": "GRAFANA_TOKEN", "type": "env", "secret": "grafana-kept"}]})
    # A passing overload is tried again: a read, and a creation Semaphore says it did not make.
    semaphore.add_faults([{"action": "status", "status": 502, "method": "GET", "path": "/projects$"},
                          {"action": "status", "status": 429, "method": "POST", "path": "/schedules$"}])

    first = configure("-vvv", schedule_entries=ENTRIES, **options)

    assert first.rc == 0, first.output
    assert semaphore.faults() == []
    templates, schedules = mine(semaphore, "templates"), mine(semaphore, "schedules")
    environment = semaphore.state()["environments"][0]
    assert sorted(templates) == sorted(schedules) == sorted(plan["name"] for plan in plans)
    for plan in plans:
        template, schedule = templates[plan["name"]], schedules[plan["name"]]
        assert (template["playbook"], template["inventory_id"], template["repository_id"], template["environment_id"],
                [vault["vault_key_id"] for vault in template["vaults"]]) == (
            f"playbooks/{plan['playbook']}.yml", 30, 20, environment["id"], [11])
        day_check = {"maintenance_only_on": plan["cron_day_check"], "maintenance_time_zone": plan["rule"]["time_zone"]} \
            if plan["cron_day_check"] else {}
        assert run_vars(template) == {**plan["vars"], **day_check}
        assert (schedule["template_id"], schedule["cron_format"], schedule["active"]) == (
            template["id"], plan["cron"], True)
    assert run_vars(templates["maintenance-monthly"]) == {
        "maintenance_level": "monthly", "maintenance_only_on": {"weekday": "sunday", "week": "first"},
        "maintenance_time_zone": "Asia/Tokyo"}
    assert [schedules[name]["cron_format"] for name in ("maintenance-monthly", "daily-check-hourly")] == [
        "CRON_TZ=Asia/Tokyo 0 1 * * 0", "CRON_TZ=Asia/Tokyo 0 * * * *"]
    # The settings as extra variables, the machine's non-secret variables as environment variables, the secrets
    # as env secrets; a secret not set here is not made empty in Semaphore.
    assert (environment["id"], json.loads(environment["json"]), json.loads(environment["env"])) == (
        ENVIRONMENT, options["schedule_semaphore_settings"], NOT_SECRET)
    assert stored_secrets(semaphore) == {**{name: ("env", value) for name, value in SECRETS.items()},
                                         "GRAFANA_TOKEN": ("env", "grafana-kept")}
    assert "Not set here nor in Semaphore" in first.output and "PAGERDUTY_API_TOKEN" in first.output
    # Someone else's template and schedule, and another project's, are as they were.
    assert [t for t in semaphore.state()["templates"] if t["id"] in (40, 41)] == SEED["templates"]
    assert [s for s in semaphore.state()["schedules"] if s["id"] == 50] == SEED["schedules"]
    files = exported(tmp_path)
    assert len(files) == 1 + 2 * len(plans)
    assert json.loads(files["schedule-maintenance-monthly.json"]) == {
        "id": schedules["maintenance-monthly"]["id"], "project_id": PROJECT,
        "template_id": templates["maintenance-monthly"]["id"], "name": "maintenance-monthly",
        "cron_format": "CRON_TZ=Asia/Tokyo 0 1 * * 0", "active": True}
    assert json.loads(files["template-maintenance-monthly.json"])["arguments"] == \
        templates["maintenance-monthly"]["arguments"]
    assert [s["name"] for s in json.loads(files["environment-runbook-ops.json"])["secrets"]] == SECRET_NAMES
    assert_no_secret(first.output, *files.values())
    secret_bearers = [r for r in semaphore.requests() if any(v in json.dumps(r["body"]) for v in SECRETS.values())]
    assert [(r["method"], r["path"]) for r in secret_bearers] == [
        ("PUT", f"/api/project/{PROJECT}/environment/{ENVIRONMENT}")]

    semaphore.clear_requests()
    again = configure(schedule_entries=ENTRIES, **options)

    assert (again.rc, again.changed, writes(semaphore)) == (0, 0, []), again.output
    assert exported(tmp_path) == files

    # A definition change: one entry moved to 04:00, one disabled, one taken out. --check only says so.
    changed = [{**ENTRIES[0], "at": "04:00"}, {**ENTRIES[1], "enabled": False}]
    made = semaphore.state()

    check = configure("--check", schedule_entries=changed, **options)

    assert check.rc == 0, check.output
    assert (semaphore.state(), writes(semaphore), exported(tmp_path)) == (made, [], files)
    assert check.changed > 0
    # (A template's description says when it runs.)
    assert "Semaphore would get an updated template maintenance-daily, an updated template maintenance-monthly, " \
           "the schedule maintenance-daily, the schedule maintenance-monthly, no more template daily-check-hourly." \
           in check.output

    # With it, a secret is rotated: Semaphore never shows its value, so every secret is sent again.
    done = configure(env={"VERCEL_TOKEN": "vercel-rotated-token-Q81"}, schedule_entries=changed,
                     schedule_semaphore_update_secrets=True, **options)

    assert done.rc == 0, done.output
    assert stored_secrets(semaphore)["VERCEL_TOKEN"] == ("env", "vercel-rotated-token-Q81")
    assert "vercel-rotated-token-Q81" not in done.output
    now, schedules = mine(semaphore, "templates"), mine(semaphore, "schedules")
    assert sorted(now) == sorted(schedules) == ["maintenance-daily", "maintenance-monthly"]
    assert [now[name]["id"] for name in now] == [templates[name]["id"] for name in now]
    assert schedules["maintenance-daily"]["cron_format"] == "CRON_TZ=Asia/Tokyo 0 4 * * *"
    # A disabled entry keeps its template, and its schedule is kept, inactive.
    assert [schedules[name]["active"] for name in ("maintenance-daily", "maintenance-monthly")] == [True, False]
    assert "(disabled)" in now["maintenance-monthly"]["description"]
    assert [t for t in semaphore.state()["templates"] if t["id"] in (40, 41)] == SEED["templates"]
    assert [s for s in semaphore.state()["schedules"] if s["id"] == 50] == SEED["schedules"]
    assert sorted(exported(tmp_path)) == ["environment-runbook-ops.json", "schedule-maintenance-daily.json",
                                          "schedule-maintenance-monthly.json", "template-maintenance-daily.json",
                                          "template-maintenance-monthly.json"]


def test_what_cannot_be_done_is_refused_before_anything_changes(semaphore, configure, tmp_path):
    week_rule = configure(schedule_entries=[*SMALL, {
        "name": "daily-check-first-monday", "playbook": "daily_check", "at": "09:00", "weekday": "monday",
        "week": "first", "vars": {"daily_check_phase": "morning"}}])
    asked = semaphore.requests()
    taken = configure(schedule_entries=[{"name": "deploy-by-hand", "playbook": "deploy", "at": "12:00"}])

    assert week_rule.rc != 0
    assert "Semaphore cannot run daily-check-first-monday only on the first or last weekday" in week_rule.output
    assert asked == []
    assert taken.rc != 0
    assert "already has a template named deploy-by-hand that this role did not make" in taken.output
    assert (writes(semaphore), semaphore.state(), exported(tmp_path)) == ([], SemaphoreServer(SEED).state(), {})


def test_what_semaphore_refuses_is_said_with_what_to_do(semaphore, configure):
    wrong_token = configure(env={"SEMAPHORE_API_TOKEN": "not-a-token-31337"}, schedule_entries=SMALL)
    semaphore.add_faults([{"action": "status", "status": 503, "method": "POST", "path": "/templates$", "times": 9}])
    overloaded = configure(schedule_entries=SMALL[:1], schedule_semaphore_retries=1)

    assert wrong_token.rc != 0 and "Semaphore refused the API token (401" in wrong_token.output
    assert "SEMAPHORE_API_TOKEN" in wrong_token.output and "not-a-token-31337" not in wrong_token.output
    assert overloaded.rc != 0
    assert re.search(r"Semaphore answered 503 at \S+/api/project/1/templates 2 times:", overloaded.output)
    assert len([r for r in semaphore.requests() if r["method"] == "POST" and r["path"].endswith("/templates")]) == 2
    assert not mine(semaphore, "templates") and not mine(semaphore, "schedules")
    # What came before the refusal stays: the environment, made with its secrets.
    environment, = semaphore.state()["environments"]
    assert {s["name"]: s["secret"] for s in semaphore.state()["secrets"]
            if s["environment_id"] == environment["id"]} == SECRETS
    assert_no_secret(wrong_token.output, overloaded.output)


def test_only_the_request_bodies_are_written_without_asking_semaphore(semaphore, configure, tmp_path):
    done = configure(env={"SEMAPHORE_URL": None, "SEMAPHORE_API_TOKEN": None}, schedule_entries=SMALL[:1],
                     schedule_semaphore_apply=False)

    assert done.rc == 0, done.output
    assert semaphore.requests() == []
    files = {name: json.loads(text) for name, text in exported(tmp_path).items()}
    assert sorted(files) == ["environment-runbook-ops.json", "schedule-maintenance-monthly.json",
                             "template-maintenance-monthly.json"]
    template = files["template-maintenance-monthly.json"]
    assert (template["playbook"], template["inventory_id"], run_vars(template)) == (
        "playbooks/maintenance.yml", None,
        {"maintenance_level": "monthly", "maintenance_only_on": {"weekday": "sunday", "week": "first"},
         "maintenance_time_zone": "Asia/Tokyo"})
    assert files["schedule-maintenance-monthly.json"]["cron_format"] == "CRON_TZ=Asia/Tokyo 0 1 * * 0"
    assert_no_secret(done.output, *map(json.dumps, files.values()))
