"""The rollback, incident and maintenance plays run the way AWX/AAP runs them: through ansible-runner.

Each job gets a private data folder of its own, laid out as AWX lays it out: ``env/extravars`` holds the survey's
answers (each string tagged ``!unsafe``, as AWX writes them) and the ``awx_*`` variables AWX adds; ``env/envvars``
holds what a credential's injectors set (the secrets and the services' URLs, here the session's fakes and the
throwaway PostgreSQL); ``env/settings`` the job's timeouts; ``inventory/hosts`` the inventory as AWX writes it, a
script that prints it as JSON. The project is the checkout itself and the playbook its path in it
(``playbooks/rollback.yml``), as a job template names it: AWX lists a project's playbook files, it cannot name a
playbook inside a collection, and the checkout's ``ansible.cfg`` (found in the project folder, which is the job's
working folder) makes the checkout the collection ``runbook.ops`` that the playbooks' roles are named in.

Nothing can answer a prompt: a job that waits for input is ended by the idle timeout, and its status is then
``timeout``, never ``successful`` or ``failed``. Every file a job leaves (its events, its stdout, its fact cache,
the reports and records it writes) is searched for the secrets it was given.
"""
import json
import os
import stat
import sys
from pathlib import Path

import ansible_runner
import pytest
import yaml

from tests.integration.sandbox import (DEPLOY_HOOK, INCIDENT_HOOK, LIVE, MAINTENANCE_HOOK, PAGERDUTY_ROUTING_KEY,
                                       PAGERDUTY_TOKEN, PREVIOUS, REPO, STATUSPAGE_KEY, STATUSPAGE_PAGE, TOKEN,
                                       pagerduty_alerts, serving, statuspage_incidents, writes)
from tests.integration.test_maintenance import CLEANUP, host_files
# The maintenance tests' database, a fixture: pytest finds it by its name here.
from tests.integration.test_maintenance import maintenance_database  # pylint: disable=unused-import
from tests.postgres_cluster import PASSWORD

ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
SECRETS = {
    "VERCEL_TOKEN": TOKEN,
    "SLACK_INCIDENT_WEBHOOK": INCIDENT_HOOK.rsplit("/", 1)[-1],
    "SLACK_MAINTENANCE_WEBHOOK": MAINTENANCE_HOOK.rsplit("/", 1)[-1],
    "SLACK_DEPLOYMENT_WEBHOOK": DEPLOY_HOOK.rsplit("/", 1)[-1],
    "STATUS_PAGE_API_KEY": STATUSPAGE_KEY,
    "PAGERDUTY_ROUTING_KEY": PAGERDUTY_ROUTING_KEY,
    "PAGERDUTY_API_TOKEN": PAGERDUTY_TOKEN,
    "DATABASE_URL": PASSWORD,
}
# A job that prints nothing for this long is waiting for something, most likely input nobody can give.
SETTINGS = {"job_timeout": 300, "idle_timeout": 60, "suppress_ansible_output": True}
# What an operator types into the survey's reason: AWX passes it on unsafe, so it must stay these characters.
REASON = "checkout answers 500 since 14:02 {{ lookup('ansible.builtin.env', 'VERCEL_TOKEN') }}"
SANDBOX_ROOT = "{{ inventory_dir | dirname | dirname }}"
SANDBOX_HEALTH = "http://127.0.0.1:28082"


def credential_environment(fake, database_url):
    """What the injectors of a custom credential type set: the secrets and where the services are."""
    return {
        "VERCEL_TOKEN": TOKEN,
        "VERCEL_API_URL": fake.vercel_url,
        "VERCEL_ORG_ID": "team_sandbox01",
        "SLACK_INCIDENT_WEBHOOK": fake.slack_url + INCIDENT_HOOK,
        "SLACK_MAINTENANCE_WEBHOOK": fake.slack_url + MAINTENANCE_HOOK,
        "SLACK_DEPLOYMENT_WEBHOOK": fake.slack_url + DEPLOY_HOOK,
        "DATABASE_URL": database_url,
        "STATUSPAGE_API_URL": fake.statuspage_url,
        "STATUS_PAGE_API_KEY": STATUSPAGE_KEY,
        "STATUS_PAGE_ID": STATUSPAGE_PAGE,
        "PAGERDUTY_EVENTS_URL": fake.pagerduty_url,
        "PAGERDUTY_API_URL": fake.pagerduty_url,
        "PAGERDUTY_ROUTING_KEY": PAGERDUTY_ROUTING_KEY,
        "PAGERDUTY_API_TOKEN": PAGERDUTY_TOKEN,
    }


def awx_variables(job_id, template):
    """The variables AWX adds to every job's extra variables."""
    variables = {"job_id": job_id, "job_launch_type": "manual", "job_template_name": template,
                 "user_name": "ops-alice", "user_email": "alice@example.com", "inventory_name": "webapp production",
                 "project_revision": "0123456789abcdef0123456789abcdef01234567"}
    return {f"{prefix}_{name}": value for prefix in ("awx", "tower") for name, value in variables.items()}


def write_extravars(path, variables):
    """The extra variables as AWX writes them: YAML, each string tagged ``!unsafe`` so that no one can template it."""
    lines = [f"{name}: {'!unsafe ' if isinstance(value, str) else ''}{json.dumps(value)}"
             for name, value in variables.items()]
    path.write_text("---\n" + "\n".join(lines) + "\n", encoding="utf-8")


def write_inventory(path, groups, hostvars, settings):
    """The inventory as AWX writes it: an executable script that prints the inventory's JSON.

    ``groups`` is ``{group: {"hosts": [...], "vars": {...}}}``; ``settings`` are the inventory's own variables.
    """
    data = {"all": {"children": ["ungrouped", *groups], "vars": settings}, **groups, "_meta": {"hostvars": hostvars}}
    script = "#! /usr/bin/env python3\n# -*- coding: utf-8 -*-\nprint(%r)\n" % json.dumps(data)
    path.write_text(script, encoding="utf-8")
    path.chmod(stat.S_IRUSR | stat.S_IWUSR | stat.S_IXUSR)


def sandbox_settings(state, fake):
    """The sandbox inventory's settings, as an operator would paste them into the AWX inventory: its state kept in
    ``state``, its health endpoint the fake's."""
    text = (REPO / "inventories/sandbox/group_vars/all.yml").read_text(encoding="utf-8")
    return yaml.safe_load(text.replace(SANDBOX_ROOT, str(state)).replace(SANDBOX_HEALTH, fake.health_url))


CONTROLLER = {"controller": {"hosts": ["localhost"]}, "db": {"hosts": ["localhost"]}}
CONTROLLER_VARS = {"localhost": {"ansible_connection": "local",
                                 "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}


class Job:
    """A finished job: its runner, its private data folder, and what it left there."""

    def __init__(self, runner, folder):
        self.folder = folder
        self.status, self.rc = runner.status, runner.rc
        self.artifacts = Path(runner.config.artifact_dir)
        self.events = list(runner.events)
        self.stdout = (self.artifacts / "stdout").read_text(encoding="utf-8")

    def task_events(self, event, task):
        return [e for e in self.events if e["event"] == event and e["event_data"].get("task") == task]

    @property
    def stats(self):
        """The data of the playbook_on_stats event: failures, dark, changed, ... and artifact_data (set_stats)."""
        [stats] = [e["event_data"] for e in self.events if e["event"] == "playbook_on_stats"]
        return stats

    def last_message(self):
        """What the play's last task said: the msg of the last ok or failed task event."""
        ended = [e for e in self.events if e["event"] in ("runner_on_ok", "runner_on_failed")]
        return ended[-1]["event_data"]["res"]["msg"]


def secrets_in(data, where):
    """``[(secret's name, where)]`` for each secret found in ``data`` (bytes)."""
    return [(name, where) for name, value in SECRETS.items() if value.encode() in data]


def leaked_secrets(folder):
    """Every secret found in a file under ``folder``, but the job's own input (``env/envvars``) and the environment
    ansible-runner records beside the command it ran (``artifacts/<job>/command``, its ``env`` field: a copy of that
    input, which AWX redacts before keeping)."""
    found = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path == folder / "env/envvars":
            continue
        where = str(path.relative_to(folder))
        if path.name == "command" and path.parent.parent == folder / "artifacts":
            ran = json.loads(path.read_text(encoding="utf-8"))
            found += secrets_in(json.dumps([ran["command"], ran["cwd"]]).encode(), where + " (command, cwd)")
            continue
        if path.parent.name == "job_events":
            # Name the event and the task, so that a leak can be found in the play.
            event = json.loads(path.read_text(encoding="utf-8"))
            where += f" ({event['event']}, task {event.get('event_data', {}).get('task')!r})"
        found += secrets_in(path.read_bytes(), where)
    return found


@pytest.fixture
def execution_environment(monkeypatch):
    """As in an execution environment, ansible-playbook is on the PATH: this venv's."""
    monkeypatch.setenv("PATH", f"{ANSIBLE_PLAYBOOK.parent}{os.pathsep}{os.environ.get('PATH', '')}")


def run_job(folder, playbook, **options):
    """ansible-runner's run, as AWX calls it; AWX cancels through its own callback, and ansible-runner's own would
    take pytest's signals."""
    return ansible_runner.run(private_data_dir=str(folder), playbook=playbook, quiet=True,
                              cancel_callback=lambda: False, **options)


@pytest.fixture
def awx(fake, postgres, tmp_path, execution_environment):
    """Launch a job as AWX does: ``awx(playbook, extravars, database_url=..., groups=..., hostvars=...,
    settings=...)`` returns a finished ``Job``. Each job has a private data folder of its own under tmp_path; the
    state the plays keep (audit log, locks, reports, incidents) is shared by the jobs of a test, in ``awx.state``,
    as on the persistent storage the README asks for. Every job is checked for leaked secrets."""
    state = tmp_path / "state"
    jobs = []

    def launch(playbook, extravars, database_url=postgres.dsn, groups=None, hostvars=None, settings=None, verbosity=0):
        job_id = len(jobs) + 1
        folder = tmp_path / f"job-{job_id}"
        (folder / "env").mkdir(parents=True)
        (folder / "inventory").mkdir()
        write_extravars(folder / "env/extravars", {**extravars, **awx_variables(job_id, playbook)})
        (folder / "env/envvars").write_text(json.dumps(credential_environment(fake, database_url)), encoding="utf-8")
        (folder / "env/settings").write_text(json.dumps(SETTINGS), encoding="utf-8")
        if verbosity:
            # A job template's verbosity, which AWX passes as an argument in env/cmdline.
            (folder / "env/cmdline").write_text("-" + "v" * verbosity, encoding="utf-8")
        write_inventory(folder / "inventory/hosts", groups or CONTROLLER, hostvars or CONTROLLER_VARS,
                        {**sandbox_settings(state, fake), **(settings or {})})

        job = Job(run_job(folder, playbook, project_dir=str(REPO), ident=str(job_id)), folder)
        jobs.append(job)

        # Nothing waited for input, and nothing it left, nor what the plays keep, holds a secret.
        assert job.status in ("successful", "failed"), (job.status, job.stdout[-3000:])
        assert not [e for e in job.events if e["event"] == "playbook_on_vars_prompt"]
        assert leaked_secrets(folder) == []
        assert leaked_secrets(state) == []
        return job

    launch.state = state
    return launch


def slack_texts(fake):
    """Every notice's text, whether plain or in the attachment that carries its color."""
    return [message["payload"].get("text")
            or "".join(part.get("text", "") for part in message["payload"].get("attachments", []))
            for message in fake.slack.state()["messages"]]


def audit_records(state):
    log = state / ".sandbox/audit/audit.jsonl"
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def test_the_secret_search_names_the_file_the_event_and_the_task(tmp_path):
    # The search every job passes must be able to fail, and say where.
    events = tmp_path / "artifacts/1/job_events"
    events.mkdir(parents=True)
    event = {"event": "runner_on_ok", "event_data": {"task": "Send it", "res": {"msg": f"Bearer {TOKEN}"}}}
    (events / "7-5f0e.json").write_text(json.dumps(event), encoding="utf-8")
    (tmp_path / "artifacts/1/stdout").write_text(f"could not connect to postgresql://runbook:{PASSWORD}@db/shop")
    ran = {"command": ["ansible-playbook", "-e", PAGERDUTY_TOKEN], "cwd": str(REPO), "env": {"VERCEL_TOKEN": TOKEN}}
    (tmp_path / "artifacts/1/command").write_text(json.dumps(ran), encoding="utf-8")
    (tmp_path / "env").mkdir()
    (tmp_path / "env/envvars").write_text(json.dumps({"VERCEL_TOKEN": TOKEN}), encoding="utf-8")

    assert sorted(leaked_secrets(tmp_path)) == [
        ("DATABASE_URL", "artifacts/1/stdout"),
        ("PAGERDUTY_API_TOKEN", "artifacts/1/command (command, cwd)"),
        ("VERCEL_TOKEN", "artifacts/1/job_events/7-5f0e.json (runner_on_ok, task 'Send it')"),
    ]


def test_a_job_that_waits_for_input_ends_in_timeout_not_in_a_result(tmp_path, execution_environment):
    # What every job's status is checked against: a prompt with no one to answer it is never a result.
    # (A prompt of the play itself: the pause module's would leave a worker behind, in a session of its own.)
    play = [{"hosts": "localhost", "gather_facts": False, "vars_prompt": [{"name": "answer", "prompt": "Type yes"}],
             "tasks": [{"ansible.builtin.debug": {"var": "answer"}}]}]
    runner = run_job(tmp_path, play, inventory={"all": {"hosts": {"localhost": CONTROLLER_VARS["localhost"]}}},
                     settings={"idle_timeout": 2, "job_timeout": 60})
    assert runner.status == "timeout"
    assert [event["event"] for event in runner.events if event["event"] == "playbook_on_vars_prompt"]


def test_a_confirmed_application_rollback(fake, awx):
    job = awx("playbooks/rollback.yml", {"rollback_type": "application", "rollback_reason": REASON,
                                         "rollback_confirm": "true"}, verbosity=4)

    assert job.status == "successful" and job.rc == 0, job.stdout[-3000:]
    [switched] = job.task_events("runner_on_ok", "Point every production domain at the target")
    assert switched["event_data"]["host"] == "localhost" and switched["event_data"]["res"]["changed"] is True
    # The roles ran from the checkout, through its link as the collection runbook.ops.
    assert switched["event_data"]["task_path"].startswith(str(REPO) + "/")
    assert job.stats["failures"] == {} and job.stats["dark"] == {} and job.stats["changed"]["localhost"] >= 1
    assert serving(fake) == {"shop.example.com": PREVIOUS, "www.shop.example.com": PREVIOUS}
    assert job.last_message().startswith("Rollback succeeded in ")
    assert f"now serve {PREVIOUS} (was {LIVE})" in job.last_message()

    # The events are the job_events files, one each; stdout is the play's output.
    files = sorted((job.artifacts / "job_events").glob("*.json"))
    assert len(files) == len(job.events)
    assert {json.loads(f.read_text())["uuid"] for f in files} == {event["uuid"] for event in job.events}
    assert "PLAY RECAP" in job.stdout and "Point every production domain at the target" in job.stdout
    # The job had every secret in its environment (so the search of its files, in awx, had something to find).
    ran = json.loads((job.artifacts / "command").read_text(encoding="utf-8"))
    assert "-vvvv" in ran["command"]
    assert {name for name, where in secrets_in(json.dumps(ran["env"]).encode(), "")} == set(SECRETS)

    # The survey's reason arrived as typed, and the operator is the AWX user.
    [record] = audit_records(awx.state)
    assert record["result"] == "succeeded" and record["reason"] == REASON and record["operator"] == "ops-alice"
    assert any(REASON in text for text in slack_texts(fake))


def test_a_rollback_without_confirmation_shows_the_plan_and_changes_nothing(fake, awx):
    job = awx("playbooks/rollback.yml", {"rollback_type": "application", "rollback_reason": REASON})

    # The README's contract: without rollback_confirm the job shows the plan and succeeds.
    assert job.status == "successful" and job.rc == 0, job.stdout[-3000:]
    [plan] = job.task_events("runner_on_ok", "Show the plan")
    shown = "\n".join(plan["event_data"]["res"]["msg"])
    assert PREVIOUS in shown and LIVE in shown
    assert "Run again with -e rollback_confirm=true to roll back." in shown
    assert job.last_message() == "Plan only: nothing was changed."
    assert not job.task_events("runner_on_ok", "Point every production domain at the target")
    assert serving(fake) == {"shop.example.com": LIVE, "www.shop.example.com": LIVE}
    assert writes(fake) == [] and slack_texts(fake) == []
    assert [record["result"] for record in audit_records(awx.state)] == ["planned"]


def test_a_rollback_without_a_reason_fails_the_job_and_says_why(fake, awx):
    job = awx("playbooks/rollback.yml", {"rollback_type": "application", "rollback_confirm": "true"})

    assert job.status == "failed" and job.rc != 0
    # The role's argument spec refuses it, before any task of the role runs.
    [failed] = [e for e in job.events if e["event"] == "runner_on_failed"]
    assert "missing required arguments: rollback_reason" in failed["event_data"]["res"]["msg"]
    assert job.stats["failures"] == {"localhost": 1}
    assert serving(fake) == {"shop.example.com": LIVE, "www.shop.example.com": LIVE}
    assert writes(fake) == [] and slack_texts(fake) == []


def test_an_incident_declared_and_resolved_by_two_jobs_of_a_workflow(fake, awx):
    declared = awx("playbooks/incident.yml", {"incident_action": "declare", "incident_severity": "P1",
                                              "incident_title": "Checkout fails",
                                              "incident_description": "Payments answer 500 since 14:02"})

    assert declared.status == "successful" and declared.rc == 0, declared.stdout[-3000:]
    # The ID reaches the next job of a workflow as an artifact (set_stats), as AWX hands it on.
    incident_id = declared.stats["artifact_data"]["incident_id"]
    [opened] = statuspage_incidents(fake)
    assert opened["name"] == f"[{incident_id}] Checkout fails" and opened["status"] != "resolved"
    assert pagerduty_alerts(fake) == {incident_id: "triggered"}
    assert any(incident_id in text for text in slack_texts(fake))

    resolved = awx("playbooks/incident.yml", {"incident_action": "resolve", "incident_id": incident_id,
                                              "incident_message": "Rolled back."})

    assert resolved.status == "successful" and resolved.rc == 0, resolved.stdout[-3000:]
    assert resolved.stats["failures"] == {} and resolved.stats["artifact_data"]["incident_id"] == incident_id
    [closed] = statuspage_incidents(fake)
    assert closed["status"] == "resolved" and pagerduty_alerts(fake) == {incident_id: "resolved"}
    postmortem = awx.state / ".sandbox/incidents" / f"{incident_id}-postmortem.md"
    assert "| Severity | P1 (Critical) |" in postmortem.read_text(encoding="utf-8")
    records = [(record["incident_action"], record["result"], record["operator"]) for record in audit_records(awx.state)]
    assert records == [("declare", "succeeded", "ops-alice"), ("resolve", "succeeded", "ops-alice")]


def test_the_daily_maintenance_on_the_ops_and_db_hosts(fake, awx, ssh_hosts, maintenance_database, tmp_path):
    seeded = [host_files(ssh_hosts.host_folder(host)) for host in ssh_hosts.hosts]
    ops = yaml.safe_load(ssh_hosts.write_inventory(tmp_path / "ops.yml").read_text(encoding="utf-8"))
    ops = ops["all"]["children"]["ops"]

    job = awx("playbooks/maintenance.yml", {"maintenance_level": "daily"}, database_url=maintenance_database,
              groups={**CONTROLLER, "ops": {"hosts": list(ops["hosts"]), "vars": ops["vars"]}},
              hostvars={**CONTROLLER_VARS, **ops["hosts"]}, settings={"maintenance_cleanup": CLEANUP})

    assert job.status == "successful" and job.rc == 0, job.stdout[-3000:]
    assert job.stats["failures"] == {} and job.stats["dark"] == {}
    cleaned = job.task_events("runner_on_ok", "Remove old logs and temp files")
    assert {event["event_data"]["host"] for event in cleaned} == set(ops["hosts"])
    for host in seeded:
        assert not host["old"].exists() and host["young"].exists()

    # The report files, in the inventory's maintenance_report_dir.
    reports = awx.state / ".sandbox/reports"
    [report_path] = reports.glob("maintenance-daily-*.json")
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["result"] == "succeeded" and report["steps"]["backup"]["status"] == "ok"
    assert {name: host["status"] for name, host in report["hosts"].items()} == {name: "ok" for name in ops["hosts"]}
    assert report_path.with_suffix(".md").is_file()
    assert any("Maintenance (daily) completed" in text for text in slack_texts(fake))
