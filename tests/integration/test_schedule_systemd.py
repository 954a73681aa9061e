"""The schedule role's systemd entry point, run by the real ansible-playbook into folders of the test: the units it
writes pass systemd-analyze verify, a second run changes nothing, entries taken out leave nothing behind, and a unit's
own command line runs a play with the schedule's variables. systemd itself does not run here: the role only writes."""
import getpass
import json
import os
import shlex
import subprocess

import pytest
import yaml

from tests.integration.conftest import ANSIBLE_PLAYBOOK, controller_inventory
from tests.integration.sandbox import REPO

PLAY = """
- name: Install the schedules
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: runbook.ops.schedule
"""


@pytest.fixture
def schedule(tmp_path):
    """Run the role with the units, the variables and the secrets file in this test's folder."""
    playbook = tmp_path / "schedule.yml"
    playbook.write_text(PLAY, encoding="utf-8")
    inventory = controller_inventory(tmp_path / "inventory.json")
    secrets = tmp_path / "runbook.env"
    secrets.write_text("VERCEL_TOKEN=scheduleSecretToken01\n", encoding="utf-8")
    secrets.chmod(0o600)
    units, variables = tmp_path / "units", tmp_path / "schedules"
    units.mkdir()

    def run(*args, inventory_given=True, **extra_vars):
        settings = {
            "schedule_systemd_dir": str(units),
            "schedule_vars_dir": str(variables),
            "schedule_environment_file": str(secrets),
            "schedule_project_dir": str(REPO),
            "schedule_inventory": str(inventory),
            "schedule_ansible_playbook": str(ANSIBLE_PLAYBOOK),
            "schedule_user": getpass.getuser(),
            "schedule_systemd_reload": False,
            **extra_vars,
        }
        inventory_args = ["-i", str(inventory)] if inventory_given else []
        done = subprocess.run([str(ANSIBLE_PLAYBOOK), *inventory_args, str(playbook), "-e", json.dumps(settings),
                               *args], cwd=REPO,
                              env={**os.environ, "ANSIBLE_NOCOLOR": "1"}, capture_output=True, text=True,
                              timeout=300, check=False)
        return done.returncode, done.stdout + done.stderr

    run.units, run.variables, run.secrets = units, variables, secrets
    return run


def changed(output):
    return int(output.rsplit("changed=", 1)[1].split()[0])


def unit_settings(path):
    return dict(line.split("=", 1) for line in path.read_text(encoding="utf-8").splitlines()
                if "=" in line and not line.startswith("#"))


def schedule_defaults():
    return yaml.safe_load((REPO / "roles/schedule/defaults/main/schedule.yml").read_text())["schedule_entries"]


def test_the_runbook_schedules_become_timers_that_systemd_accepts(schedule):
    rc, output = schedule()
    assert rc == 0, output

    timers = sorted(path.name for path in schedule.units.glob("*.timer"))
    assert timers == ["runbook-daily-check-evening.timer", "runbook-daily-check-hourly.timer",
                      "runbook-daily-check-morning.timer", "runbook-maintenance-daily.timer",
                      "runbook-maintenance-monthly.timer", "runbook-maintenance-quarterly.timer",
                      "runbook-maintenance-weekly.timer"]
    units = sorted(str(path) for path in schedule.units.iterdir())
    verified = subprocess.run(["systemd-analyze", "verify", "--man=no", *units], capture_output=True, text=True,
                              check=False)
    assert verified.returncode == 0 and verified.stderr == "", verified.stderr

    timer = unit_settings(schedule.units / "runbook-maintenance-monthly.timer")
    assert timer["OnCalendar"] == "Sun *-*-01..07 01:00:00 Asia/Tokyo"
    assert timer["Unit"] == "runbook-maintenance-monthly.service" and timer["Persistent"] == "true"
    service = unit_settings(schedule.units / "runbook-maintenance-monthly.service")
    assert service["Type"] == "oneshot" and service["SyslogIdentifier"] == "runbook-maintenance-monthly"
    assert service["StandardOutput"] == "journal" and service["EnvironmentFile"] == str(schedule.secrets)
    # Runs of one playbook take turns under one lock; each run is given its variables explicitly.
    assert service["ExecStart"].startswith("/usr/bin/flock --wait 7200 /run/lock/runbook-maintenance.lock ")
    assert f"-e @{schedule.variables}/maintenance-monthly.json" in service["ExecStart"]
    assert json.loads((schedule.variables / "maintenance-monthly.json").read_text()) == {"maintenance_level": "monthly"}
    assert "scheduleSecretToken01" not in output + "".join(path.read_text() for path in schedule.units.iterdir())

    rc, output = schedule()
    assert rc == 0 and changed(output) == 0, output

    # An entry taken out of the definition leaves nothing behind; files that are not the role's stay.
    foreign = schedule.units / "runbook-backup-by-hand.timer"
    foreign.write_text("[Timer]\nOnCalendar=daily\n", encoding="utf-8")
    rc, output = schedule(schedule_entries=[entry for entry in schedule_defaults()
                                            if entry["name"] != "daily-check-hourly"])
    assert rc == 0, output
    assert not (schedule.units / "runbook-daily-check-hourly.timer").exists()
    assert not (schedule.units / "runbook-daily-check-hourly.service").exists()
    assert not (schedule.variables / "daily-check-hourly.json").exists()
    assert (schedule.units / "runbook-daily-check-morning.timer").exists() and foreign.exists()


def test_a_unit_runs_its_play_with_the_schedules_variables(schedule, tmp_path):
    # A maintenance run for the first Sunday on a day that is not one ends at once, having read its variables.
    entry = {"name": "monthly", "playbook": "maintenance", "at": "01:00", "vars": {
        "maintenance_level": "monthly", "maintenance_date": "2026-12-13",
        "maintenance_only_on": {"weekday": "sunday", "week": "first"}}}
    rc, output = schedule(schedule_entries=[entry], schedule_lock_wait_minutes=1)
    assert rc == 0, output
    service = unit_settings(schedule.units / "runbook-monthly.service")
    command = shlex.split(service["ExecStart"])
    command[command.index("/run/lock/runbook-maintenance.lock")] = str(tmp_path / "maintenance.lock")
    environment = dict(line.split("=", 1) for line in schedule.secrets.read_text().splitlines())

    done = subprocess.run(command, cwd=service["WorkingDirectory"], capture_output=True, text=True, timeout=300,
                          env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), **environment,
                               **dict(pair.split("=", 1) for pair in service["Environment"].split())},
                          check=False)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "2026-12-13 is not the first Sunday of its month" in done.stdout


def test_a_bad_definition_readable_secrets_or_no_inventory_change_nothing(schedule):
    # A mistyped -i leaves no inventory: the role's defaults must not replace the inventory's definition.
    rc, output = schedule(inventory_given=False)
    assert rc != 0 and "The inventory has no hosts: is -i right?" in output
    assert list(schedule.units.iterdir()) == []

    rc, output = schedule(schedule_entries=[{"name": "nightly", "playbook": "backups", "at": "3am"}])
    assert rc != 0 and "'nightly' names playbook 'backups'" in output and "needs at: HH:MM" in output
    assert list(schedule.units.iterdir()) == [] and not schedule.variables.exists()

    for mode in (0o644, 0o602):
        schedule.secrets.chmod(mode)
        rc, output = schedule()
        assert rc != 0 and "must be a file that other users can neither read nor write" in output
        assert list(schedule.units.iterdir()) == []

    # A description on two lines would put its second line into the unit as a setting.
    schedule.secrets.chmod(0o600)
    rc, output = schedule(schedule_entries=[{"name": "nightly", "playbook": "backup", "at": "03:00",
                                             "description": "nightly\n[Service]\nExecStartPre=/bin/false"}])
    assert rc != 0 and "'nightly' has a description of more than one line" in output
    assert list(schedule.units.iterdir()) == []


def test_check_mode_writes_nothing(schedule):
    rc, output = schedule("--check")
    assert rc == 0, output
    assert list(schedule.units.iterdir()) == [] and not schedule.variables.exists()
