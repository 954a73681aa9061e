"""The daily checks (morning, hourly, evening), run by the real ansible-playbook against the fakes, the throwaway
PostgreSQL and the SSH hosts (the ops group); their report pages opened in headless Chromium."""
import datetime
import json
import os
import socket
import subprocess
import zoneinfo

import pytest

from ansible_collections.runbook.ops.plugins.module_utils._backup import backup_name, dump
from tests.chromium import Browser
from tests.integration.conftest import ANSIBLE_PLAYBOOK, controller_inventory, play_environment
from tests.integration.sandbox import REPO
from tests.postgres_cluster import PASSWORD

# The pages' screenshots are kept here, for a person to look at after the run.
ARTIFACTS = REPO / ".artifacts" / "reports"
DATABASE = "daily_shop"
SUDO_SECRET = "hunter2-Not-For-Reports"
UTC = datetime.timezone.utc
NOW = datetime.datetime.now(UTC)
ROTA = {"starts_on": "2026-11-30", "weeks": [{"primary": "Ren Sato", "secondary": "Mei Suzuki"},
                                             {"primary": "Mei Suzuki", "secondary": "Kenji Ito"}],
        "escalation": [{"who": "On-call primary", "respond_within_minutes": 15},
                       {"who": "Tech lead", "respond_within_minutes": 30},
                       {"who": "CTO", "respond_within_minutes": 60, "contact": "phone"}]}


def iso(moment):
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def daily_database(postgres):
    postgres.psql(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    postgres.psql(f"CREATE DATABASE {DATABASE}")
    postgres.psql("CREATE TABLE orders (id serial PRIMARY KEY, product_id int NOT NULL);"
                  "INSERT INTO orders (product_id) SELECT n % 7 FROM generate_series(1, 300) AS n;", database=DATABASE)
    yield f"postgresql://runbook:{PASSWORD}@{postgres.host}:{postgres.port}/{DATABASE}"
    postgres.psql(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


@pytest.fixture
def daily_check(fake, postgres, daily_database, ssh_hosts, tmp_path):
    """Run playbooks/daily_check.yml with the controller and the database on this machine and the SSH hosts as
    the ops group; the state (reports, history, backups, incidents) under tmp_path."""
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    controller_inventory(inventory / "controller.yml")
    ssh_hosts.write_inventory(inventory / "ops.yml")
    state = tmp_path / "state"
    for folder in ("reports", "backup", "incidents"):
        (state / folder).mkdir(parents=True)

    def run(phase, *args, env=None, **extra_vars):
        variables = {
            "daily_check_phase": phase,
            "daily_check_report_dir": str(state / "reports"),
            "daily_check_lock_dir": str(state / "locks"),
            "daily_check_backup_dir": str(state / "backup"),
            "daily_check_incident_dir": str(state / "incidents"),
            "daily_check_maintenance_history": str(state / "reports" / "history.jsonl"),
            "daily_check_security_logs": ["log/auth.log"],
            "daily_check_samples": 3,
            # The test machine's own load and disks are whatever they are: only the thresholds a test moves.
            "daily_check_thresholds": {"error_rate": {"above": 0.05}, "response_p95_ms": {"above": 60000}},
            "daily_check_active_users_query": "SELECT count(DISTINCT product_id) FROM orders",
            "vercel_project": "webapp",
            "health_check_url": fake.health_url + "/api/health",
            **extra_vars,
        }
        command = [str(ANSIBLE_PLAYBOOK), "-i", str(inventory), "playbooks/daily_check.yml", "-e",
                   json.dumps(variables), *args]
        environment = play_environment(fake, {"DATABASE_URL": daily_database, **(env or {})})
        done = subprocess.run(command, cwd=REPO, env=environment, capture_output=True, text=True, timeout=600,
                              check=False)
        return done.returncode, done.stdout + done.stderr

    run.state = state
    return run


def slack_texts(fake):
    return [message["payload"].get("text") or "".join(part.get("text", "") for part in message["payload"].get("attachments", []))
            for message in fake.slack.state()["messages"]]


def history(state):
    """The checks' history; the lines a test wrote cut short are left out."""
    path = state / "reports" / "checks.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return [json.loads(line) for line in lines if line.endswith("}")]


def page(state, phase):
    return next((state / "reports").glob(f"daily-check-{phase}-*.html"))


def open_in_chromium(path, tmp_path, name):
    """The page as Chromium shows it: console errors, chart ids, and a screenshot kept under .artifacts."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with Browser(tmp_path) as browser:
        shown = browser.open(path)
        charts = shown.evaluate("Array.from(document.querySelectorAll('figure[data-chart] svg.chart'))"
                                ".map(svg => svg.parentElement.dataset.chart)")
        fonts = shown.fonts_of("h1")
        shown.screenshot(ARTIFACTS / f"{name}.png")
        return {"errors": shown.console_errors, "charts": charts, "fonts": fonts}


def security_log(root, since):
    """An auth.log on an ops host: failed logins and sudo use inside the window, and a failed login before it."""
    log = root / "log" / "auth.log"
    log.parent.mkdir(parents=True, exist_ok=True)

    def line(moment, text):
        return f"{moment.astimezone(UTC).isoformat(timespec='microseconds')} web sshd[100]: {text}"

    inside = since + datetime.timedelta(hours=1)
    log.write_text("\n".join([
        line(since - datetime.timedelta(minutes=5), "Failed password for root from 198.51.100.9 port 2222 ssh2"),
        line(inside, "Failed password for root from 203.0.113.7 port 40000 ssh2"),
        line(inside, "Failed password for invalid user admin from 203.0.113.7 port 40001 ssh2"),
        line(inside, "Accepted publickey for deploy from 192.0.2.10 port 50000 ssh2"),
        line(inside, "").replace("sshd[100]: ", "sudo[200]:   deploy : TTY=pts/0 ; PWD=/srv ; USER=root ; "
                                 f"COMMAND=/usr/bin/psql --password {SUDO_SECRET}"),
    ]) + "\n", encoding="utf-8")


def seed_incidents(fake, state, since):
    """A PagerDuty incident and a Statuspage incident in the night, and a runbook incident declared and resolved."""
    pagerduty = fake.pagerduty.state()
    pagerduty.setdefault("incidents", []).append({
        "id": "QNIGHT1", "incident_number": 41, "title": "Checkout 5xx above 5 % <img src=x>", "status": "resolved",
        "urgency": "high",
        "service": "PSBX001", "incident_key": "night-1", "created_at": iso(since + datetime.timedelta(hours=2)),
        "updated_at": iso(since + datetime.timedelta(hours=3)),
        "last_status_change_at": iso(since + datetime.timedelta(hours=3)),
        "resolved_at": iso(since + datetime.timedelta(hours=3)), "priority": "P2"})
    fake.pagerduty.load(pagerduty)
    declared, resolved = since + datetime.timedelta(hours=2), since + datetime.timedelta(hours=3, minutes=30)
    (state / "incidents" / "INC-20261204-220000.jsonl").write_text("\n".join(json.dumps(entry) for entry in [
        {"incident_id": "INC-20261204-220000", "action": "declare", "severity": "P2", "title": "Checkout errors",
         "at": iso(declared), "declared_at": iso(declared), "result": "succeeded"},
        {"incident_id": "INC-20261204-220000", "action": "resolve", "severity": "P2", "title": "Checkout errors",
         "at": iso(resolved), "result": "succeeded"}]) + "\n", encoding="utf-8")


def take_backup(postgres, state, hours_ago):
    """A real verified backup of the database, named as if taken some hours ago."""
    environment = {**os.environ, "PGHOST": postgres.host, "PGPORT": str(postgres.port), "PGUSER": "runbook",
                   "PGPASSWORD": PASSWORD, "PGDATABASE": DATABASE}
    dump("pg_dump", "pg_restore", str(state / "backup"), DATABASE, "custom", 1, environment,
         name=backup_name(DATABASE, NOW - datetime.timedelta(hours=hours_ago)))


def test_morning_reads_the_night_and_its_page_shows_every_chart(daily_check, fake, postgres, ssh_hosts, tmp_path):
    since = NOW - datetime.timedelta(hours=12)
    take_backup(postgres, daily_check.state, 30)
    take_backup(postgres, daily_check.state, 2)
    for host in ssh_hosts.hosts:
        # A first morning reads the security logs of the last day.
        security_log(ssh_hosts.host_folder(host), NOW - datetime.timedelta(hours=24))
    seed_incidents(fake, daily_check.state, since)
    # With no evening check in the history, the morning reads from the last evening hour: put it just before the
    # night, so that the test does not depend on the time of day it runs at.
    evening_hour = (since.astimezone(zoneinfo.ZoneInfo("Asia/Tokyo"))).hour

    code, output = daily_check("morning", daily_check_evening_hour=evening_hour)

    assert code == 0, output
    report = history(daily_check.state)[-1]
    assert report["phase"] == "morning" and report["metrics"]["incidents.pagerduty"] == 1
    assert report["metrics"]["incidents.P2"] == 1 and report["metrics"]["health.ok"] == 1
    for host in ssh_hosts.hosts:
        assert report["metrics"][f"security.{host['name']}.failed_logins"] == 2
        assert report["metrics"][f"security.{host['name']}.sudo"] == 1
    [notice] = slack_texts(fake)
    assert "Morning check" in notice and "2 failed SSH login(s)" not in notice
    assert f"{2 * len(ssh_hosts.hosts)} failed SSH login(s)" in notice
    assert "1 database(s) with a fresh verified backup" in notice
    assert 1.9 < report["metrics"][f"backup.{DATABASE}.age_hours"] < 2.2

    markdown = page(daily_check.state, "morning").with_suffix(".md").read_text(encoding="utf-8")
    assert "Checkout 5xx above 5 % &lt;img src=x&gt;" in markdown and "INC-20261204-220000" in markdown
    assert "<img" not in markdown and "<img" not in page(daily_check.state, "morning").read_text(encoding="utf-8")
    for text in [markdown, page(daily_check.state, "morning").read_text(encoding="utf-8"), notice, output]:
        assert SUDO_SECRET not in text and "sandboxPagerDutyApiToken01" not in text

    shown = open_in_chromium(page(daily_check.state, "morning"), tmp_path, "morning-en")
    assert shown["errors"] == []
    assert shown["charts"] == ["response_time", "incidents_by_severity", "backup_age", "database_size", "table_sizes"]


def test_a_host_whose_log_could_not_be_read_is_caught_up_the_next_morning(daily_check, ssh_hosts):
    for host in ssh_hosts.hosts:
        security_log(ssh_hosts.host_folder(host), NOW - datetime.timedelta(hours=20))

    code, output = daily_check("morning", daily_check_samples=1, daily_check_pagerduty=False,
                               daily_check_statuspage=False, daily_check_security_logs=["log/nowhere.log"])
    assert code == 0, output
    assert not any(name.startswith("security.") for name in history(daily_check.state)[-1]["metrics"])

    code, output = daily_check("morning", daily_check_samples=1, daily_check_pagerduty=False,
                               daily_check_statuspage=False)
    assert code == 0, output
    # The failed logins before the first morning are counted now: nothing fell between the two.
    assert all(history(daily_check.state)[-1]["metrics"][f"security.{host['name']}.failed_logins"] == 3
               for host in ssh_hosts.hosts)


def set_error_rate(fake, rate):
    """The application's own error rate, as the health endpoint of the live deployment reports it."""
    state = fake.vercel.state()
    live = next(alias["deploymentId"] for alias in state["aliases"] if alias["alias"] == "shop.example.com")
    for deployment in state["deployments"]:
        if deployment["id"] == live:
            deployment["error_rate"] = rate
    fake.vercel.load(state)


def test_hourly_is_quiet_until_a_threshold_is_crossed_and_says_when_it_comes_back(daily_check, fake, tmp_path):
    # Earlier hours of the day, one of them missing, and a line a dead run cut short.
    (daily_check.state / "reports" / "checks.jsonl").write_text("\n".join([
        json.dumps({"phase": "hourly", "at": iso(NOW - datetime.timedelta(hours=3)), "breaches": [],
                    "metrics": {"response.median_ms": 50, "response.p95_ms": 80, "error_rate": 0.01}}),
        json.dumps({"phase": "hourly", "at": iso(NOW - datetime.timedelta(hours=1)), "breaches": [],
                    "metrics": {"response.median_ms": 60, "response.p95_ms": 90, "error_rate": 0.02}}),
        '{"phase": "hourly", "at": "2026-']) + "\n", encoding="utf-8")
    set_error_rate(fake, 0.01)

    code, output = daily_check("hourly")
    assert code == 0, output
    assert slack_texts(fake) == []
    assert history(daily_check.state)[-1]["metrics"]["active_users"] == 7
    assert "1 line(s) of the history are no JSON object of its shape and were passed over" in output

    set_error_rate(fake, 0.2)
    code, output = daily_check("hourly")
    # Crossed now: the report and the alert are out, and the job is red for the scheduler.
    assert code != 0 and "The hourly check found: error rate is 0.2" in output, output
    [alert] = slack_texts(fake)
    assert "error rate is 0.2, above the threshold of 0.05" in alert
    assert history(daily_check.state)[-1]["breaches"] == ["error_rate"]

    code, output = daily_check("hourly")
    assert code == 0 and len(slack_texts(fake)) == 1, output  # still crossed: said once

    set_error_rate(fake, 0.01)
    code, output = daily_check("hourly")
    assert code == 0, output
    assert "error rate is back to normal" in slack_texts(fake)[-1] and len(slack_texts(fake)) == 2

    shown = open_in_chromium(page(daily_check.state, "hourly"), tmp_path, "hourly-en")
    assert shown["errors"] == [] and shown["charts"] == ["response_time", "error_rate", "active_users"]
    # The error-rate line breaks at the hour without a check: two pieces before this one's point.
    svg = page(daily_check.state, "hourly").read_text(encoding="utf-8")
    assert svg.count("<polyline") >= 2


def test_an_alert_that_did_not_get_through_is_sent_again_the_next_hour(daily_check, fake):
    set_error_rate(fake, 0.2)
    fake.slack.add_faults([{"action": "status", "status": 500, "body": "rollup_error", "times": 100}])

    code, output = daily_check("hourly", daily_check_fail_on_failure=False)
    assert code == 0, output
    assert slack_texts(fake) == [] and history(daily_check.state)[-1]["breaches"] == []

    fake.slack.clear_faults()
    code, output = daily_check("hourly", daily_check_fail_on_failure=False)
    assert code == 0 and "error rate is 0.2" in slack_texts(fake)[-1], output


def test_evening_hands_off_in_japanese_with_tomorrow_and_the_day(daily_check, fake, tmp_path):
    tomorrow = (NOW.astimezone(datetime.timezone(datetime.timedelta(hours=9))) + datetime.timedelta(days=1)).date()
    state = fake.vercel.state()
    state["deployments"][0]["created"] = int(NOW.timestamp() * 1000) - 60000
    fake.vercel.load(state)
    (daily_check.state / "reports" / "history.jsonl").write_text(json.dumps(
        {"level": "daily", "date": str(NOW.astimezone(datetime.timezone(datetime.timedelta(hours=9))).date()),
         "run_id": "20261205T030000Z-daily-1", "result": "failed", "failed": ["backup"], "metrics": {}}) + "\n",
        encoding="utf-8")

    code, output = daily_check("evening", runbook_language="ja", daily_check_oncall_rotation=ROTA,
                               daily_check_planned_deploys=[{"date": str(tomorrow), "time": "10:00",
                                                             "what": "決済画面の刷新", "who": "Ren Sato"}])

    assert code == 0, output
    [notice] = slack_texts(fake)
    assert "夕方の振り返り" in notice and "本日のデプロイ: 1 件" in notice and "daily" in notice
    markdown = page(daily_check.state, "evening").with_suffix(".md").read_text(encoding="utf-8")
    assert "決済画面の刷新" in markdown and "CTO" in markdown and "Mei Suzuki" in markdown
    shown = open_in_chromium(page(daily_check.state, "evening"), tmp_path, "evening-ja")
    assert shown["errors"] == [] and shown["charts"] == ["incidents_by_severity", "response_time", "error_rate"]
    # The Japanese title is drawn with a CJK font, not boxes.
    assert any("CJK" in font["familyName"] and font["glyphCount"] > 0 for font in shown["fonts"]), shown["fonts"]


@pytest.mark.parametrize("variables, said", [
    ({"daily_check_phase": "noon"}, "daily_check_phase"),
    ({"daily_check_thresholds": {"latency": {"above": 1}}}, "unknown metric, latency"),
    ({"daily_check_thresholds": {"error_rate": {"over": 1}}}, "must be {above: N} or {below: N}"),
    ({"daily_check_oncall_rotation": {"starts_on": "monday", "weeks": [], "escalation": []}}, "rota is not usable"),
    ({"daily_check_phase": "hourly", "health_check_url": ""}, "health_check_url is not set"),
    ({"daily_check_phase": "evening", "daily_check_planned_deploys": [{"date": "06/12/2026", "what": "x"}]},
     "daily_check_planned_deploys must be"),
    ({"daily_check_thresholds": {"disk_percent": {"above": -5}}}, "a finite number of 0 or more"),
    ({"daily_check_report_dir": "/dev/null/reports"}, "daily_check_report_dir"),
])
def test_a_bad_request_fails_before_anything_is_read_or_sent(daily_check, fake, variables, said):
    code, output = daily_check(variables.pop("daily_check_phase", "morning"), **variables)

    assert code != 0 and said in output, output
    assert fake.pagerduty.requests() == [] and fake.statuspage.requests() == [] and fake.slack.state()["messages"] == []
    assert list((daily_check.state / "reports").iterdir()) == []


def test_a_second_check_of_the_same_phase_is_refused_while_the_first_runs(daily_check, fake):
    locks = daily_check.state / "locks"
    locks.mkdir()
    # A lock as a running check holds it: this test's own process stands for its ansible-playbook.
    (locks / "daily-check-hourly.lock").write_text(json.dumps({
        "run_id": "20261205T000000Z-hourly-1", "owner": "daily check hourly", "taken_at": NOW.timestamp(),
        "host": socket.gethostname(), "pid": os.getpid(), "data": {}}), encoding="utf-8")

    code, output = daily_check("hourly")

    assert code != 0 and "Another run holds the lock" in output, output
    assert fake.slack.state()["messages"] == [] and history(daily_check.state) == []
    # The other phases have locks of their own.
    assert daily_check("evening")[0] == 0


def test_an_outage_of_pagerduty_is_a_warning_of_a_morning_that_goes_on(daily_check, fake):
    fake.pagerduty.add_faults([{"action": "status", "status": 500, "times": 100}])

    code, output = daily_check("morning", daily_check_samples=1)

    assert code == 0, output
    [notice] = slack_texts(fake)
    assert "PagerDuty could not be read" in notice and "500" in notice
    assert page(daily_check.state, "morning").exists() and history(daily_check.state)[-1]["status"] == "warning"


def test_check_mode_writes_and_sends_nothing(daily_check, fake):
    code, output = daily_check("evening", "--check")

    assert code == 0, output
    assert fake.slack.state()["messages"] == [] and list((daily_check.state / "reports").iterdir()) == []
