"""Run the real ansible-playbook against the fakes and read back what it did."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.postgres_cluster import PASSWORD
from tests.integration.sandbox import DEPLOY_HOOK, INCIDENT_HOOK, MAINTENANCE_HOOK, REPO, TOKEN, Run

ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
STATUSPAGE_KEY = "sandboxStatuspageKey01"
PAGERDUTY_ROUTING_KEY = "sandboxpagerdutyroutingkey000001"
PAGERDUTY_TOKEN = "sandboxPagerDutyApiToken01"


def play_environment(fake, env=None):
    """The environment of a play pointed at the fakes; ``env`` adds variables, or removes those set to None."""
    environment = {
        **os.environ,
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "VERCEL_API_URL": fake.vercel_url,
        "VERCEL_TOKEN": TOKEN,
        "VERCEL_ORG_ID": "team_sandbox01",
        "SLACK_INCIDENT_WEBHOOK": fake.slack_url + INCIDENT_HOOK,
        "SLACK_MAINTENANCE_WEBHOOK": fake.slack_url + MAINTENANCE_HOOK,
        "SLACK_DEPLOYMENT_WEBHOOK": fake.slack_url + DEPLOY_HOOK,
        "STATUSPAGE_API_URL": fake.statuspage_url,
        "STATUS_PAGE_API_KEY": STATUSPAGE_KEY,
        "STATUS_PAGE_ID": "sbxpage00001",
        "PAGERDUTY_EVENTS_URL": fake.pagerduty_url,
        "PAGERDUTY_API_URL": fake.pagerduty_url,
        "PAGERDUTY_ROUTING_KEY": PAGERDUTY_ROUTING_KEY,
        "PAGERDUTY_API_TOKEN": PAGERDUTY_TOKEN,
        **(env or {}),
    }
    return {name: value for name, value in environment.items() if value is not None}


def controller_inventory(path):
    """An inventory file of the controller (this machine, local), which is also the db host."""
    path.write_text(json.dumps({"all": {"children": {
        "controller": {"hosts": {"localhost": {"ansible_connection": "local",
                                               "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}},
        "db": {"hosts": {"localhost": None}}}}}), encoding="utf-8")
    return path


@pytest.fixture
def rollback(fake, tmp_path):
    """Run playbooks/rollback.yml on the sandbox inventory, pointed at this test's fakes."""
    audit = tmp_path / "audit" / "audit.jsonl"

    def run(*args, env=None, playbook="playbooks/rollback.yml", cwd=REPO, **extra_vars):
        """Run the play; ``env`` adds environment variables, or removes those set to None."""
        variables = {
            "rollback_type": "application",
            "rollback_reason": "integration test",
            "rollback_confirm": True,
            "health_check_url": f"{fake.health_url}/api/health",
            "rollback_audit_dir": str(tmp_path / "audit"),
            "rollback_lock_dir": str(tmp_path / "locks"),
            "rollback_health_timeout": 3,
            "rollback_health_interval": 1,
            "rollback_api_deadline": 5,
            **extra_vars,
        }
        environment = play_environment(fake, env)
        command = [str(ANSIBLE_PLAYBOOK), "-i", str(REPO / "inventories/sandbox"), playbook,
                   "-e", json.dumps(variables), *args]
        done = subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=300,
                              check=False)
        lines = audit.read_text(encoding="utf-8").splitlines() if audit.exists() else []
        audit.unlink(missing_ok=True)
        return Run(done.returncode, done.stdout + done.stderr, [json.loads(line) for line in lines])

    return run


@pytest.fixture
def incident(fake, postgres, tmp_path):
    """Run playbooks/incident.yml on the sandbox inventory, pointed at this test's fakes and database.

    ``machine`` names the controller's state folder, so that two runs can act as two machines that share
    nothing but the services.
    """
    def run(*args, env=None, machine="a", **extra_vars):
        state = tmp_path / machine
        variables = {
            "incident_dir": str(state / "incidents"),
            "incident_audit_dir": str(state / "audit"),
            "diagnostics_dir": str(state / "diagnostics"),
            "health_check_url": f"{fake.health_url}/api/health",
            "health_check_front_url": f"{fake.health_url}/",
            "health_check_samples": 3,
            "incident_api_deadline": 20,
            **extra_vars,
        }
        environment = play_environment(fake, {"DATABASE_URL": postgres.dsn, **(env or {})})
        command = [str(ANSIBLE_PLAYBOOK), "-i", str(REPO / "inventories/sandbox"), "playbooks/incident.yml",
                   "-e", json.dumps(variables), *args]
        done = subprocess.run(command, cwd=REPO, env=environment, capture_output=True, text=True, timeout=300,
                              check=False)
        audit = state / "audit" / "audit.jsonl"
        lines = audit.read_text(encoding="utf-8").splitlines() if audit.exists() else []
        audit.unlink(missing_ok=True)
        return Run(done.returncode, done.stdout + done.stderr, [json.loads(line) for line in lines])

    return run


@pytest.fixture
def deploy_database(postgres):
    """A small database of its own for the deploys to back up, as the URL the plays get."""
    postgres.psql("DROP DATABASE IF EXISTS deploy_shop WITH (FORCE)")
    postgres.psql("CREATE DATABASE deploy_shop")
    postgres.psql("CREATE TABLE orders (id serial PRIMARY KEY, total numeric NOT NULL);"
                  "INSERT INTO orders (total) SELECT n FROM generate_series(1, 100) AS n", database="deploy_shop")
    yield f"postgresql://runbook:{PASSWORD}@{postgres.host}:{postgres.port}/deploy_shop"
    postgres.psql("DROP DATABASE IF EXISTS deploy_shop WITH (FORCE)")


@pytest.fixture
def deploy(fake, deploy_database, tmp_path):
    """Run playbooks/deploy.yml (or ``playbook``) on the sandbox inventory, pointed at this test's fakes and
    database, with a watch of seconds; the audit records of the deploy and of any rollback it ran are returned."""
    def run(*args, env=None, playbook="playbooks/deploy.yml", **extra_vars):
        variables = {
            "deploy_reason": "integration test",
            "deploy_confirm": True,
            "health_check_url": f"{fake.health_url}/api/health",
            "health_check_front_url": f"{fake.health_url}/",
            "health_check_samples": 3,
            "deploy_smoke_checks": [{"url": f"{fake.health_url}/", "status": [200]}],
            "rollback_audit_dir": str(tmp_path / "audit"),
            "rollback_lock_dir": str(tmp_path / "locks"),
            "db_backup_dir": str(tmp_path / "backup"),
            "deploy_env_backup_dir": str(tmp_path / "env"),
            "deploy_watch_minutes": 0.05,
            "deploy_watch_interval": 0.5,
            "deploy_health_timeout": 3,
            "deploy_health_interval": 0.5,
            "deploy_build_timeout": 30,
            "deploy_api_deadline": 10,
            "rollback_health_timeout": 3,
            "rollback_health_interval": 1,
            **extra_vars,
        }
        environment = play_environment(fake, {"DATABASE_URL": deploy_database, **(env or {})})
        command = [str(ANSIBLE_PLAYBOOK), "-i", str(REPO / "inventories/sandbox"), playbook,
                   "-e", json.dumps(variables), *args]
        done = subprocess.run(command, cwd=REPO, env=environment, capture_output=True, text=True, timeout=300,
                              check=False)
        # The log stays, as a later rollback reads it; each run gets the records it added.
        audit = tmp_path / "audit" / "audit.jsonl"
        lines = audit.read_text(encoding="utf-8").splitlines() if audit.exists() else []
        # (A rollback run by the same test removes the log when it reads it.)
        added, seen[0] = lines[seen[0] if len(lines) >= seen[0] else 0:], len(lines)
        return Run(done.returncode, done.stdout + done.stderr, [json.loads(line) for line in added])

    seen = [0]
    return run
