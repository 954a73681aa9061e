"""The throwaway SSH hosts: reached over ssh and by Ansible, host keys checked, stopped without leftovers."""
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import yaml

from tests.conftest import REPO_ROOT
from tests.ssh_hosts import alive, descendants

ANSIBLE = Path(sys.executable).parent / "ansible"


def ansible(inventory, module, *args):
    """Run an ad-hoc ``module`` on the ops group with the repository's ansible.cfg; return (code, output).

    Its persistent connections are its own (beside the inventory): another run's, already logged in, would
    let it skip the host key check.
    """
    environment = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
                   "ANSIBLE_SSH_CONTROL_PATH_DIR": str(Path(inventory).parent / "cp")}
    done = subprocess.run([str(ANSIBLE), "-i", str(inventory), "ops", "-m", module, *args], cwd=REPO_ROOT,
                          env=environment, capture_output=True, text=True, timeout=120, check=False)
    return done.returncode, done.stdout + done.stderr


def test_each_host_runs_a_command_over_ssh_as_the_current_user(ssh_hosts):
    assert [host["address"] for host in ssh_hosts.hosts] == ["127.0.0.11", "127.0.0.12"]
    for host in ssh_hosts.hosts:
        done = subprocess.run(ssh_hosts.ssh_command(host, 'echo "$SSH_CONNECTION"; id -un'),
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        connection, user = done.stdout.split("\n")[:2]
        # The server's end of the connection is this host's own address and port.
        assert connection.split()[2:] == [host["address"], str(host["port"])]
        assert user == ssh_hosts.user
        assert ssh_hosts.host_folder(host).is_dir()


def test_a_client_without_the_key_is_offered_nothing_but_keys(ssh_hosts):
    host = ssh_hosts.hosts[0]
    command = ssh_hosts.ssh_command(host, "true")
    # The same command line, without the client key.
    without_key = [*command[:3], *command[5:]]
    done = subprocess.run(without_key, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 255
    assert "Permission denied (publickey)" in done.stderr


def test_the_inventory_reaches_every_host_with_its_own_root(ssh_hosts, tmp_path):
    inventory = ssh_hosts.write_inventory(tmp_path / "inventory.yml")
    written = yaml.safe_load(inventory.read_text(encoding="utf-8"))["all"]["children"]["ops"]
    assert written["vars"]["ansible_ssh_host_key_checking"] is True
    assert "StrictHostKeyChecking=no" not in inventory.read_text(encoding="utf-8")

    code, output = ansible(inventory, "ansible.builtin.ping")
    assert code == 0, output
    for host in ssh_hosts.hosts:
        assert re.search(rf'^{host["name"]} \| SUCCESS => {{[^}}]*"ping": "pong"', output, re.M), output

    # Each host's ops_root is its own folder, seen from that host.
    code, output = ansible(inventory, "ansible.builtin.command", "-a", "ls -d {{ ops_root }}")
    assert code == 0, output
    for host in ssh_hosts.hosts:
        assert re.search(rf'^{host["name"]} \| CHANGED \| rc=0 >>\n{ssh_hosts.host_folder(host)}$', output, re.M), output


def test_host_keys_are_checked_although_ansible_cfg_turns_checking_off(ssh_hosts, tmp_path):
    # A known_hosts that gives each host the other's key: a man in the middle, as far as ssh can tell.
    lines = ssh_hosts.known_hosts.read_text(encoding="utf-8").splitlines()
    keys = [line.split(" ", 1)[1] for line in lines]
    swapped = tmp_path / "known_hosts"
    swapped.write_text("".join(f"{line.split(' ', 1)[0]} {key}\n" for line, key in zip(lines, reversed(keys))),
                       encoding="utf-8")
    inventory = ssh_hosts.write_inventory(tmp_path / "inventory.yml")
    inventory.write_text(inventory.read_text(encoding="utf-8").replace(str(ssh_hosts.known_hosts), str(swapped)),
                         encoding="utf-8")

    code, output = ansible(inventory, "ansible.builtin.ping")

    assert code != 0
    assert output.count("UNREACHABLE") == len(ssh_hosts.hosts), output
    assert "Host key verification failed" in output
    assert "pong" not in output


def test_up_and_down_from_the_command_line_leave_nothing_behind(ssh_hosts, tmp_path):
    state = tmp_path / "ssh-hosts.json"
    up = subprocess.run([sys.executable, "-m", "tests.ssh_hosts", "up", "--state", str(state), "--count", "3"],
                        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert up.returncode == 0, up.stderr
    recorded = json.loads(state.read_text(encoding="utf-8"))
    folder = Path(recorded["folder"])
    hosts = json.loads((folder / "hosts.json").read_text(encoding="utf-8"))
    assert [host["address"] for host in hosts] == ["127.0.0.11", "127.0.0.12", "127.0.0.13"]
    assert recorded["inventory"] in up.stdout

    code, output = ansible(recorded["inventory"], "ansible.builtin.ping")
    assert code == 0 and output.count("SUCCESS") == 3, output
    # A session still open when the hosts go down.
    from tests.ssh_hosts import SshHosts
    session = subprocess.Popen(SshHosts(folder=folder).ssh_command(hosts[0], "sleep", "120"),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _attempt in range(200):
        served = descendants(hosts[0]["pid"])
        if served:
            break
        time.sleep(0.05)
    assert served
    ours = [host["pid"] for host in hosts] + served

    down = subprocess.run([sys.executable, "-m", "tests.ssh_hosts", "down", "--state", str(state)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False)

    assert down.returncode == 0, down.stderr
    assert not folder.exists() and not state.exists()
    assert not any(alive(pid) for pid in ours)
    # The client's session ended with its server, not after its two minutes.
    assert session.wait(timeout=60) != 0
    # The session's hosts, on the same addresses, were not touched.
    for host in ssh_hosts.hosts:
        assert subprocess.run(ssh_hosts.ssh_command(host, "true"), timeout=60, check=False).returncode == 0
