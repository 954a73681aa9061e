"""Run the real ansible-playbook against the fakes and read back what it did."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.sandbox import INCIDENT_HOOK, MAINTENANCE_HOOK, REPO, TOKEN, Run

ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"


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
        environment = {
            **os.environ,
            "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
            "ANSIBLE_NOCOLOR": "1",
            "VERCEL_API_URL": fake.vercel_url,
            "VERCEL_TOKEN": TOKEN,
            "VERCEL_ORG_ID": "team_sandbox01",
            "SLACK_INCIDENT_WEBHOOK": fake.slack_url + INCIDENT_HOOK,
            "SLACK_MAINTENANCE_WEBHOOK": fake.slack_url + MAINTENANCE_HOOK,
            **(env or {}),
        }
        environment = {name: value for name, value in environment.items() if value is not None}
        command = [str(ANSIBLE_PLAYBOOK), "-i", str(REPO / "inventories/sandbox"), playbook,
                   "-e", json.dumps(variables), *args]
        done = subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=300,
                              check=False)
        lines = audit.read_text(encoding="utf-8").splitlines() if audit.exists() else []
        audit.unlink(missing_ok=True)
        return Run(done.returncode, done.stdout + done.stderr, [json.loads(line) for line in lines])

    return run
