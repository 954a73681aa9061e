"""The collection built and installed with ansible-galaxy, its playbook addressed as runbook.ops.rollback."""
import os
import subprocess
import sys
from pathlib import Path

from tests.integration.sandbox import PREVIOUS, REPO, serving

ANSIBLE_GALAXY = Path(sys.executable).parent / "ansible-galaxy"


def galaxy(*args, cwd):
    # Away from the checkout's ansible.cfg, whose collections path already holds runbook.ops.
    env = {name: value for name, value in os.environ.items() if name != "ANSIBLE_CONFIG"}
    subprocess.run([str(ANSIBLE_GALAXY), *args], cwd=cwd, env=env, check=True, capture_output=True, text=True,
                   timeout=300)


def test_installed_collection_runs_the_rollback(fake, rollback, tmp_path):
    galaxy("collection", "build", str(REPO), "--output-path", str(tmp_path), cwd=tmp_path)
    archive = next(tmp_path.glob("runbook-ops-*.tar.gz"))
    galaxy("collection", "install", str(archive), "-p", str(tmp_path / "collections"), cwd=tmp_path)
    installed = tmp_path / "collections/ansible_collections/runbook/ops"
    assert (installed / "playbooks/rollback.yml").is_file()
    assert not (installed / "collections").exists()  # the checkout's link back to itself stays out

    # No ansible.cfg from the checkout: only the installed copy can answer to runbook.ops.
    run = rollback("-vv", playbook="runbook.ops.rollback", cwd=tmp_path,
                   env={"ANSIBLE_CONFIG": None, "ANSIBLE_COLLECTIONS_PATH": str(tmp_path / "collections")})

    assert run.rc == 0, run.output
    assert f"task path: {installed}/roles/rollback/tasks/" in run.output
    assert set(serving(fake).values()) == {PREVIOUS}
