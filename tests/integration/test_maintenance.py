"""The maintenance levels and the drills, run by the real ansible-playbook against the throwaway PostgreSQL, the SSH
hosts on loopback (the ops group) and the fakes."""
import json
import os
import subprocess
import time

import psycopg2
import pytest

from tests.integration.conftest import ANSIBLE_PLAYBOOK, controller_inventory, play_environment
from tests.integration.sandbox import REPO
from tests.postgres_cluster import PASSWORD
from tests.unit.module_utils.test_probe import HTTPSServer, days, make_certificate, write_pem

DATABASE = "maint_shop"
DAY = 86400

SCHEMA = """
CREATE EXTENSION pg_stat_statements;
CREATE TABLE orders (id serial PRIMARY KEY, customer text NOT NULL, total numeric(10, 2) NOT NULL);
INSERT INTO orders (customer, total) SELECT 'customer ' || n, n * 1.5 FROM generate_series(1, 500) AS n;
CREATE INDEX orders_customer_never_used ON orders (customer);
CREATE TABLE operation_logs (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL, message text);
INSERT INTO operation_logs (created_at, message)
  SELECT now() - make_interval(days => n) + interval '12 hours', 'operation ' || n FROM generate_series(1, 200) AS n;
CREATE TABLE audit_log (id bigserial PRIMARY KEY, "timestamp" timestamp NOT NULL, actor text, detail jsonb);
INSERT INTO audit_log ("timestamp", actor, detail)
  SELECT localtimestamp - make_interval(days => 3 * n), 'user' || n % 7, jsonb_build_object('n', n)
  FROM generate_series(1, 300) AS n;
"""


@pytest.fixture
def maintenance_database(postgres):
    postgres.psql(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    postgres.psql(f"CREATE DATABASE {DATABASE}")
    postgres.psql(SCHEMA, database=DATABASE)
    yield f"postgresql://runbook:{PASSWORD}@{postgres.host}:{postgres.port}/{DATABASE}"
    postgres.psql(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


def age(path, days):
    """Make a file look ``days`` old."""
    moment = time.time() - days * DAY
    os.utime(path, (moment, moment), follow_symlinks=False)


def host_files(root):
    """Logs and temp files on an ops host: what the clean-up must remove and what it must keep."""
    logs, tmp = root / "log/app", root / "tmp"
    logs.mkdir(parents=True, exist_ok=True)
    tmp.mkdir(parents=True, exist_ok=True)
    outside = root / "precious.log"
    outside.write_text("kept: only reached through a link")
    age(outside, 400)
    files = {
        "old": logs / "app-2026-10-01.log",
        "old_rotated": logs / "app.log.3",
        "young": logs / "app.log",
        "other_name": logs / "notes.txt",
        "shell_name": logs / "$(touch pwned).log",
        "old_tmp": tmp / "upload-1234",
    }
    for path in files.values():
        path.write_text("x" * 1000)
    for name in ("old", "old_rotated", "other_name", "shell_name", "old_tmp"):
        age(files[name], 40)
    age(files["young"], 1)
    link = logs / "linked.log"
    link.unlink(missing_ok=True)
    link.symlink_to(outside)
    age(link, 400)
    files["outside"] = outside
    return files


CLEANUP = [
    {"paths": ["log/app"], "patterns": ["*.log", "*.log.[0-9]*"], "older_than_days": 30},
    {"paths": ["tmp"], "patterns": ["upload-*"], "older_than_days": 7},
]


@pytest.fixture
def maintenance(fake, postgres, maintenance_database, ssh_hosts, tmp_path):
    """Run playbooks/maintenance.yml (or ``playbook``) with the controller and the database on this machine and the SSH
    hosts as the ops group."""
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    controller_inventory(inventory / "controller.yml")
    ssh_hosts.write_inventory(inventory / "ops.yml")
    state = tmp_path / "state"

    def run(*args, env=None, playbook="playbooks/maintenance.yml", inventories=(), **extra_vars):
        variables = {
            "maintenance_report_dir": str(state / "reports"),
            "maintenance_audit_dir": str(state / "audit"),
            "maintenance_lock_dir": str(state / "locks"),
            "db_backup_dir": str(state / "backup"),
            "dr_drill_report_dir": str(state / "reports"),
            "dr_drill_audit_dir": str(state / "audit"),
            "maintenance_cleanup": CLEANUP,
            "maintenance_tables": [],
            **extra_vars,
        }
        command = [str(ANSIBLE_PLAYBOOK), "-i", str(inventory), *[arg for extra in inventories for arg in ("-i", extra)],
                   playbook, "-e", json.dumps(variables), *args]
        environment = play_environment(fake, {"DATABASE_URL": maintenance_database, **(env or {})})
        done = subprocess.run(command, cwd=REPO, env=environment, capture_output=True, text=True, timeout=600,
                              check=False)
        return done.returncode, done.stdout + done.stderr

    run.state = state
    return run


def reports(state, level):
    """The JSON reports of a level, oldest first."""
    return [json.loads(path.read_text(encoding="utf-8"))
            for path in sorted((state / "reports").glob(f"maintenance-{level}-*.json"))]


def slack_texts(fake):
    """Every notice's text, whether plain or in the attachment that carries its color."""
    return [message["payload"].get("text") or "".join(part.get("text", "") for part in message["payload"].get("attachments", []))
            for message in fake.slack.state()["messages"]]


def rows(postgres, sql):
    return postgres.psql(sql, database=DATABASE)


def test_daily_backs_up_cleans_the_hosts_and_alerts_on_sessions(maintenance, fake, postgres, ssh_hosts,
                                                                maintenance_database):
    files = [host_files(ssh_hosts.host_folder(host)) for host in ssh_hosts.hosts]
    # Three more sessions than the threshold allows.
    sessions = [psycopg2.connect(maintenance_database) for dummy in range(3)]
    try:
        rc, output = maintenance(maintenance_level="daily", maintenance_connection_alert_threshold=2)
    finally:
        for session in sessions:
            session.close()
    assert rc == 0, output

    for host in files:
        for name in ("old", "old_rotated", "shell_name", "old_tmp"):
            assert not host[name].exists(), name
        for name in ("young", "other_name", "outside"):
            assert host[name].exists(), name
        # The link is no regular file: it is neither followed nor removed.
        assert host["outside"].read_text() == "kept: only reached through a link"
        assert not (host["old"].parent.parent.parent / "pwned").exists()

    report, = reports(maintenance.state, "daily")
    assert report["result"] == "succeeded"
    assert report["steps"]["backup"]["status"] == "ok"
    assert report["steps"]["connections"]["status"] == "warning"
    assert report["steps"]["connections"]["data"]["connections"]["total"] > 2
    for host in ssh_hosts.hosts:
        assert report["hosts"][host["name"]]["status"] == "ok"
        assert report["hosts"][host["name"]]["cleanup"]["files_removed"] == 4
        assert report["hosts"][host["name"]]["cleanup"]["bytes_freed"] == 4000
        assert report["hosts"][host["name"]]["resources"]["memory"]["total_bytes"] > 0
    backups = sorted((maintenance.state / "backup").iterdir())
    names = [path.name for path in backups]
    assert any(name.endswith(".dump.sha256") for name in names) and any(name.endswith(".tables.json") for name in names)
    texts = slack_texts(fake)
    assert any("Maintenance (daily) started" in text for text in texts)
    assert any("Maintenance alert" in text and "sessions" in text for text in texts)
    assert any("Maintenance (daily) completed" in text for text in texts)

    # A second run has nothing left to clean, and reports the change since the first; a history line cut short by
    # a run that died is passed over.
    with (maintenance.state / "reports" / "history.jsonl").open("a", encoding="utf-8") as history:
        history.write('{"level": "daily", "date": "2026-12-0\n')
    rc, output = maintenance(maintenance_level="daily")
    assert rc == 0, output
    first, second = reports(maintenance.state, "daily")
    assert all(host["cleanup"]["files_removed"] == 0 for host in second["hosts"].values())
    assert second["previous_run"] == first["run_id"]
    assert any(change["name"] == "backup_bytes" and change["before"] is not None for change in second["changes"])
    markdown = next((maintenance.state / "reports").glob(f"maintenance-daily-{second['run_id']}.md")).read_text()
    assert "Change since the last daily run" in markdown


@pytest.fixture
def expiring_site(tmp_path):
    """An HTTPS server on 127.0.0.1 whose certificate, from a throwaway authority, has 5 days left."""
    authority = make_certificate("Maintenance Test CA", days(3650), ca=True)
    write_pem(tmp_path / "ca.pem", authority[0])
    certificate, key = make_certificate("expiring.test", days(5), authority)
    server = HTTPSServer(tmp_path / "site.pem", write_pem(tmp_path / "site.pem", certificate, key))
    yield {"maintenance_tls_hostnames": ["127.0.0.1"], "maintenance_tls_port": server.server.server_address[1],
           "maintenance_tls_ca_path": str(tmp_path / "ca.pem")}
    server.stop()


def test_a_limit_that_leaves_out_the_controller_removes_nothing(maintenance, fake, ssh_hosts):
    files = host_files(ssh_hosts.host_folder(ssh_hosts.hosts[0]))
    rc, output = maintenance("--limit", ssh_hosts.hosts[0]["name"], maintenance_level="daily")
    assert rc != 0 and "A --limit must include localhost" in output
    assert files["old"].exists() and files["old_tmp"].exists()


def test_quarterly_runs_every_level_archives_drills_and_closes_the_year(maintenance, fake, postgres, tmp_path,
                                                                        expiring_site):
    audit_tool = tmp_path / "npm-audit"
    audit_tool.write_text("#!/bin/sh\necho '{\"metadata\": {\"vulnerabilities\": "
                          "{\"info\": 0, \"low\": 2, \"moderate\": 1, \"high\": 1, \"critical\": 0, \"total\": 4}}}'\n"
                          "exit 1\n")
    audit_tool.chmod(0o755)
    before = {table: rows(postgres, f"SELECT count(*) FROM {table}") for table in ("operation_logs", "audit_log")}
    rows(postgres, "SELECT pg_sleep(0.6), 'a secret literal'")

    rc, output = maintenance(maintenance_level="quarterly", maintenance_date="2026-12-27",
                             maintenance_app_path=str(tmp_path), maintenance_dependency_audit_command=[str(audit_tool)],
                             **expiring_site)
    assert rc == 0, output

    report, = reports(maintenance.state, "quarterly")
    steps = report["steps"]
    assert set(steps) == set(report["plan"])
    assert report["plan"] == ["backup", "connections", "analyze", "tls", "dependency_audit", "slow_statements",
                              "table_sizes", "archive", "vacuum_reindex", "capacity", "drill_communication",
                              "unused_indexes", "drill_full", "annual_report"]
    assert steps["dependency_audit"]["status"] == "warning"
    assert steps["tls"]["status"] == "warning" and 4 <= report["metrics"]["tls_days_left.127.0.0.1"] <= 5
    assert any("Maintenance alert" in text and "TLS" in text for text in slack_texts(fake))
    slow = steps["slow_statements"]["data"]["statements"]
    assert any("pg_sleep" in statement["query"] for statement in slow)
    assert "a secret literal" not in json.dumps(report)
    assert steps["dependency_audit"]["data"]["vulnerabilities"]["high"] == 1

    # operation_logs older than 90 days, audit_log older than a year, moved and not lost.
    assert rows(postgres, "SELECT count(*) FROM operation_logs WHERE created_at < now() - interval '90 days'") == "0"
    assert rows(postgres, "SELECT count(*) FROM operation_logs_archive") == "110"
    assert int(rows(postgres, "SELECT count(*) FROM operation_logs")) + 110 == int(before["operation_logs"])
    archived = int(rows(postgres, "SELECT count(*) FROM audit_log_archive"))
    assert archived == 300 - 121 and int(rows(postgres, "SELECT count(*) FROM audit_log")) == 121
    assert steps["archive"]["metrics"]["archived_rows.operation_logs"] == 110

    assert any(index["index"].endswith("orders_customer_never_used") for index in steps["unused_indexes"]["data"]["indexes"])
    assert steps["drill_full"]["status"] == "ok" and report["metrics"]["drill_rto_seconds"] > 0
    assert steps["drill_communication"]["status"] == "ok"
    channels = {message["channel"] for message in fake.slack.state()["messages"] if "drill" in message["payload"].get("text", "").lower()}
    assert len(channels) >= 3
    assert fake.pagerduty.events("resolved")
    annual = maintenance.state / "reports" / "annual-2026.md"
    assert annual.exists() and "Annual report 2026" in annual.read_text()
    # The same machinery as the daily checks' pages: one HTML page with its charts.
    page = (maintenance.state / "reports" / "annual-2026.html").read_text(encoding="utf-8")
    charts = ("uptime", "incidents_by_severity", "response_time", "database_size")
    assert all(f'data-chart="{chart}"' in page for chart in charts)
    # No scratch database is left behind by the drill.
    assert rows(postgres, "SELECT count(*) FROM pg_database WHERE datname LIKE '%drill%'") == "0"


def test_a_failed_step_is_named_and_hides_no_other_result(maintenance, fake, tmp_path, ssh_hosts):
    broken = tmp_path / "npm-audit"
    broken.write_text("#!/bin/sh\necho 'npm ERR! network' >&2\nexit 2\n")
    broken.chmod(0o755)
    gone = tmp_path / "gone.yml"
    gone.write_text(json.dumps({"all": {"children": {"ops": {"hosts": {"gone-host": {
        "ansible_host": "127.0.0.1", "ansible_port": 1, "ansible_connection": "ssh"}}}}}}), encoding="utf-8")

    rc, output = maintenance(maintenance_level="weekly", maintenance_app_path=str(tmp_path),
                             maintenance_dependency_audit_command=[str(broken)], inventories=[str(gone)])
    assert rc != 0

    report, = reports(maintenance.state, "weekly")
    assert report["result"] == "failed"
    assert report["steps"]["dependency_audit"]["status"] == "failed"
    assert set(report["failed"]) == {"dependency_audit", "host gone-host"}
    for step in ("backup", "analyze", "table_sizes", "slow_statements"):
        assert report["steps"][step]["status"] in ("ok", "warning"), step
    for host in ssh_hosts.hosts:
        assert report["hosts"][host["name"]]["status"] == "ok"
    failure = [text for text in slack_texts(fake) if "Maintenance (weekly) FAILED" in text]
    assert failure and "dependency_audit" in failure[0] and "gone-host" in failure[0]
    assert not (maintenance.state / "locks" / "maintenance.lock").exists()


@pytest.mark.parametrize("variables, problem", [
    ({"maintenance_level": "hourly"}, "maintenance_level"),
    ({"maintenance_level": "monthly",
      "maintenance_archive_tables": [{"table": "operation_logs", "column": "created_at", "older_than_days": -1}]},
     "negative"),
    ({"maintenance_level": "monthly",
      "maintenance_archive_tables": [{"table": "no_such_table", "column": "created_at", "older_than_days": 90}]},
     "no_such_table"),
    ({"maintenance_level": "daily",
      "maintenance_cleanup": [{"paths": ["log"], "patterns": ["*.log"], "older_than_days": -3}]}, "negative"),
])
def test_bad_input_fails_before_anything_changes(maintenance, fake, postgres, ssh_hosts, variables, problem):
    files = host_files(ssh_hosts.host_folder(ssh_hosts.hosts[0]))
    rc, output = maintenance(**variables)
    assert rc != 0 and problem in output
    assert not (maintenance.state / "backup").exists() or not any((maintenance.state / "backup").iterdir())
    assert files["old"].exists()
    # A level Ansible's argument check refuses fails the job before the role starts; any other request that cannot
    # run tells the channel that nothing changed.
    texts = slack_texts(fake)
    if problem == "maintenance_level":
        assert texts == []
    else:
        assert len(texts) == 1 and "FAILED" in texts[0] and problem in texts[0] and "Nothing changed" in texts[0]


def test_an_archive_table_that_would_truncate_rows_stops_the_run_first(maintenance, fake, postgres):
    rows(postgres, "CREATE TABLE operation_logs_archive (id bigint, created_at timestamptz, message varchar(5))")
    rc, output = maintenance(maintenance_level="monthly")
    assert rc != 0 and "message" in output
    assert rows(postgres, "SELECT count(*) FROM operation_logs") == "200"
    assert rows(postgres, "SELECT count(*) FROM operation_logs_archive") == "0"
    assert not (maintenance.state / "backup").exists() or not any((maintenance.state / "backup").iterdir())


def test_a_run_for_the_first_sunday_on_another_sunday_does_nothing(maintenance, fake, postgres, ssh_hosts):
    # Semaphore's cron runs the monthly level every Sunday and passes the day it means.
    files = host_files(ssh_hosts.host_folder(ssh_hosts.hosts[0]))
    rc, output = maintenance(maintenance_level="monthly", maintenance_date="2026-12-13",
                             maintenance_only_on={"weekday": "sunday", "week": "first"})
    assert rc == 0, output
    assert "2026-12-13 is not the first Sunday of its month" in output
    assert files["old"].exists()
    assert rows(postgres, "SELECT count(*) FROM operation_logs") == "200"
    assert not (maintenance.state / "backup").exists()
    assert not (maintenance.state / "reports").exists()
    assert slack_texts(fake) == []


def test_check_mode_changes_nothing(maintenance, fake, postgres, ssh_hosts):
    files = host_files(ssh_hosts.host_folder(ssh_hosts.hosts[0]))
    rc, output = maintenance("--check", maintenance_level="monthly")
    assert rc == 0, output
    assert "ok | archive | Check mode, nothing done: " in output
    assert files["old"].exists()
    assert rows(postgres, "SELECT count(*) FROM operation_logs") == "200"
    assert rows(postgres, "SELECT to_regclass('operation_logs_archive') IS NULL") == "t"
    assert not (maintenance.state / "backup").exists() or not any((maintenance.state / "backup").glob("*.dump"))
    assert slack_texts(fake) == []


def test_a_drill_that_finds_a_difference_fails_and_says_which_table(maintenance, fake, postgres):
    rc, output = maintenance(playbook="playbooks/backup.yml", db_backup_table_summary=True)
    assert rc == 0, output
    summary, = (maintenance.state / "backup").glob("*.tables.json")
    record = json.loads(summary.read_text())
    key = next(name for name in record if name.endswith("orders"))
    record[key]["rows"] += 1
    summary.write_text(json.dumps(record))

    rc, output = maintenance(playbook="playbooks/dr_drill.yml", dr_drill_mode="full", dr_drill_backup_dir=str(maintenance.state / "backup"))
    assert rc != 0 and "orders" in output
    drill, = (maintenance.state / "reports").glob("drill-*.json")
    assert json.loads(drill.read_text())["passed"] is False
    assert any("DR drill" in text and "FAILED" in text for text in slack_texts(fake))
    assert rows(postgres, "SELECT count(*) FROM pg_database WHERE datname LIKE '%drill%'") == "0"


def test_a_communication_drill_fails_when_a_channel_does(maintenance, fake):
    fake.pagerduty.add_faults([{"action": "status", "status": 500, "times": 100}])
    rc, output = maintenance(playbook="playbooks/dr_drill.yml", dr_drill_mode="communication-only",
                             env={"SLACK_DEPLOYMENT_WEBHOOK": None})
    assert rc != 0
    drill, = (maintenance.state / "reports").glob("drill-*.json")
    report = json.loads(drill.read_text())
    channels = report["data"]["channels"]
    assert channels["slack SLACK_DEPLOYMENT_WEBHOOK"]["ok"] is False
    assert channels["pagerduty"]["ok"] is False and "500" in channels["pagerduty"]["detail"]
    assert channels["slack SLACK_MAINTENANCE_WEBHOOK"]["ok"] is True
    assert channels["statuspage"]["ok"] is True
    assert report["passed"] is False and "pagerduty FAILED" in report["summary"]


def test_a_full_drill_fails_when_the_newest_backup_does_not_verify(maintenance, fake, postgres):
    for dummy in range(2):
        rc, output = maintenance(playbook="playbooks/backup.yml", db_backup_table_summary=True)
        assert rc == 0, output
        time.sleep(1.1)  # backups are named by the second
    newest = sorted((maintenance.state / "backup").glob("*.dump"))[-1]
    with newest.open("r+b") as archive:
        archive.seek(2000)
        archive.write(b"\xff\xff\xff\xff")

    rc, output = maintenance(playbook="playbooks/dr_drill.yml", dr_drill_mode="full",
                             dr_drill_backup_dir=str(maintenance.state / "backup"))
    assert rc != 0
    drill, = (maintenance.state / "reports").glob("drill-*.json")
    report = json.loads(drill.read_text())
    # The older backup restored and matched; the newer one that does not verify fails the drill all the same.
    assert report["data"]["passed"] is True and report["passed"] is False
    assert newest.name in report["summary"] and "PASSED OVER" in report["summary"]
