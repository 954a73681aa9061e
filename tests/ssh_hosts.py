"""Throwaway SSH hosts for the tests, the sandbox and the benchmarks: the ``ops`` hosts of the plays.

Each host is an sshd of its own on a loopback address (127.0.0.11, 127.0.0.12, ...) and a free port, with
its own host key and its own folder (``<tmp>/hosts/<name>``) that plays use as the host's root for logs and
temporary files (the host variable ``ops_root``). The plays reach them over SSH as they reach production
hosts: key authentication only, no PAM, and host key checking on, against a known_hosts file that holds
the hosts' keys. They log in as the current user (root on CI), the only account an sshd that does not run
as root can serve.

Everything lives in one temporary folder that is removed when the hosts stop; stopping ends only the
sshd processes started here, and the sessions they serve.

The sandbox and the benchmarks start hosts that outlive this process:
``python -m tests.ssh_hosts up|down --state FILE [--count N]``; ``up`` prints the inventory's path.
"""
import argparse
import getpass
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

FIRST_ADDRESS = 11
# Enough for the 20 hosts of a benchmark, each with Ansible's parallel forks and their multiplexed sessions.
MAX_STARTUPS = 200
MAX_SESSIONS = 100
START_TIMEOUT = 10


def sshd_binary():
    """The installed sshd, or a clear error saying what to install."""
    found = shutil.which("sshd", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))
    if not found:
        raise RuntimeError("No OpenSSH server is installed: run `make test` (or apt-get install openssh-server).")
    return str(Path(found).resolve())


def sshd_version(sshd):
    """OpenSSH's (major, minor) version of this sshd, from the banner ``sshd -V`` prints."""
    done = subprocess.run([sshd, "-V"], capture_output=True, text=True, check=False)
    found = re.search(r"OpenSSH_(\d+)\.(\d+)", done.stdout + done.stderr)
    return (int(found[1]), int(found[2])) if found else (0, 0)


def free_port(address):
    with socket.socket() as probe:
        probe.bind((address, 0))
        return probe.getsockname()[1]


def generate_key(path, comment):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                   check=True, capture_output=True)
    return path.with_name(path.name + ".pub").read_text(encoding="utf-8").strip()


def descendants(pid):
    """The processes below ``pid`` (its sessions and what they run), read from /proc."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text(encoding="utf-8", errors="replace").rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, waiting = [], [pid]
    while waiting:
        below = children.get(waiting.pop(), [])
        found.extend(below)
        waiting.extend(below)
    return found


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A child of this process that ended is a zombie until it is reaped: not alive.
    status = Path(f"/proc/{pid}/stat")
    return status.exists() and status.read_text(errors="replace").rsplit(")", 1)[-1].split()[:1] != ["Z"]


class SshHosts:
    def __init__(self, count=2, folder=None, prefix="ops"):
        """``count`` new hosts named ops01, ops02, ..., or with ``folder`` the ones a sandbox started earlier there."""
        self.sshd = sshd_binary()
        self.user = getpass.getuser()
        self.processes = {}
        if folder:
            self.folder = Path(folder)
            self.hosts = json.loads((self.folder / "hosts.json").read_text(encoding="utf-8"))
            return
        if not 0 < count <= 255 - FIRST_ADDRESS:
            raise ValueError(f"count must be between 1 and {255 - FIRST_ADDRESS}, not {count}.")
        self.folder = Path(tempfile.mkdtemp(prefix="runbook-ssh-"))
        self.hosts = [{"name": f"{prefix}{number:02d}", "address": f"127.0.0.{FIRST_ADDRESS + number - 1}"}
                      for number in range(1, count + 1)]
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    # ----- where things are --------------------------------------------------------------------------

    @property
    def ssh_folder(self):
        return self.folder / "ssh"

    @property
    def client_key(self):
        return self.ssh_folder / "client_key"

    @property
    def known_hosts(self):
        return self.ssh_folder / "known_hosts"

    def host_folder(self, host):
        """The folder that plays use as this host's root (its ``ops_root``)."""
        return self.folder / "hosts" / host["name"]

    def _sshd_folder(self, host):
        return self.ssh_folder / host["name"]

    # ----- start -------------------------------------------------------------------------------------

    def _start(self):
        self.ssh_folder.mkdir(mode=0o700)
        generate_key(self.client_key, "runbook-ops-tests")
        # As root, sshd needs its privilege separation folder, which only a running system service creates.
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)

        known = []
        for host in self.hosts:
            self._sshd_folder(host).mkdir()
            (self.host_folder(host) / "tmp").mkdir(parents=True)
            public_key = generate_key(self._sshd_folder(host) / "host_key", host["name"])
            key_type, key = public_key.split()[:2]
            host["port"] = free_port(host["address"])
            known.append(f"[{host['address']}]:{host['port']} {key_type} {key}")
        self.known_hosts.write_text("\n".join(known) + "\n", encoding="utf-8")
        (self.ssh_folder / "authorized_keys").write_text(
            self.client_key.with_name("client_key.pub").read_text(encoding="utf-8"), encoding="utf-8")

        # Started side by side, then awaited: 20 hosts start in about the time of one.
        penalties = sshd_version(self.sshd) >= (9, 8)
        for host in self.hosts:
            self._launch(host, penalties)
        for host in self.hosts:
            self._wait_until_listening(host)
        self._save()

    def _config(self, host, penalties):
        folder = self._sshd_folder(host)
        lines = [
            f"ListenAddress {host['address']}:{host['port']}",
            f"HostKey {folder / 'host_key'}",
            f"PidFile {folder / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.ssh_folder / 'authorized_keys'}",
            f"AllowUsers {self.user}",
            # Keys only: no passwords, no PAM, nothing a test could be asked to type.
            "AuthenticationMethods publickey",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "HostbasedAuthentication no",
            "UsePAM no",
            "PermitRootLogin prohibit-password",
            # The temporary folder sits in /tmp, which is writable by all; StrictModes would refuse its keys.
            "StrictModes no",
            "Subsystem sftp internal-sftp",
            f"MaxStartups {MAX_STARTUPS}",
            f"MaxSessions {MAX_SESSIONS}",
            "UseDNS no",
            "PrintMotd no",
            "PrintLastLog no",
            "X11Forwarding no",
            "LogLevel INFO",
        ]
        if penalties:
            # OpenSSH 9.8 and later slow down an address that fails to log in; the tests do that on purpose.
            lines.append("PerSourcePenalties no")
        path = folder / "sshd_config"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def _launch(self, host, penalties):
        config = self._config(host, penalties)
        log = self._sshd_folder(host) / "sshd.log"
        self.processes[host["name"]] = subprocess.Popen(
            [self.sshd, "-D", "-f", str(config), "-E", str(log)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)

    def _wait_until_listening(self, host):
        process = self.processes[host["name"]]
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                log = self._sshd_folder(host) / "sshd.log"
                said = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
                raise RuntimeError(f"sshd of {host['name']} ({host['address']}:{host['port']}) stopped: {said.strip()}")
            try:
                with socket.create_connection((host["address"], host["port"]), timeout=1) as connection:
                    # A listening sshd says who it is first.
                    if connection.recv(4).startswith(b"SSH-"):
                        host["pid"] = process.pid
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"sshd of {host['name']} did not listen on {host['address']}:{host['port']} "
                           f"within {START_TIMEOUT} seconds.")

    def _save(self):
        (self.folder / "hosts.json").write_text(json.dumps(self.hosts, indent=2), encoding="utf-8")

    # ----- use ---------------------------------------------------------------------------------------

    def client_options(self):
        """The ssh options (``-o`` values) that reach these hosts, with host key checking on, against their
        known_hosts alone."""
        return [f"UserKnownHostsFile={self.known_hosts}", "GlobalKnownHostsFile=/dev/null",
                "StrictHostKeyChecking=yes", "IdentitiesOnly=yes"]

    def ssh_command(self, host, *command):
        """The ssh command line that runs ``command`` on ``host`` (a dict of ``hosts``, or its name)."""
        host = self.host(host) if isinstance(host, str) else host
        options = [part for option in [*self.client_options(), "BatchMode=yes"] for part in ("-o", option)]
        return ["ssh", "-F", "/dev/null", "-i", str(self.client_key), *options,
                "-p", str(host["port"]), f"{self.user}@{host['address']}", *command]

    def host(self, name):
        return next(host for host in self.hosts if host["name"] == name)

    def write_inventory(self, path=None, group="ops"):
        """Write an Ansible inventory (YAML) of the hosts in ``group``; return its path."""
        path = Path(path or self.folder / "inventory.yml")
        group_vars = {
            "ansible_connection": "ssh",
            "ansible_user": self.user,
            "ansible_ssh_private_key_file": str(self.client_key),
            "ansible_ssh_common_args": " ".join(f"-o {shlex.quote(option)}" for option in self.client_options()),
            # The repository's ansible.cfg turns host key checking off for the sandbox; these hosts keep it on.
            "ansible_ssh_host_key_checking": True,
        }
        if Path("/usr/bin/python3").exists():
            # What a production inventory names, and one round trip less per host than discovering it.
            group_vars["ansible_python_interpreter"] = "/usr/bin/python3"
        hosts = {host["name"]: {"ansible_host": host["address"], "ansible_port": host["port"],
                                "ops_root": str(self.host_folder(host)),
                                "ansible_remote_tmp": str(self.host_folder(host) / "tmp")}
                 for host in self.hosts}
        inventory = {"all": {"children": {group: {"hosts": hosts, "vars": group_vars}}}}
        path.write_text(yaml.safe_dump(inventory, sort_keys=False), encoding="utf-8")
        return path

    # ----- stop --------------------------------------------------------------------------------------

    def _own_sshd(self, host):
        """The pid of this host's listening sshd when it still runs, checked by its command line."""
        pid = host.get("pid")
        if pid is None:
            pid_file = self._sshd_folder(host) / "sshd.pid"
            pid = int(pid_file.read_text()) if pid_file.exists() else None
        if pid is None:
            return None
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        # A pid the system has given to another process since is not ours to signal. (sshd rewrites its
        # command line into one title, which keeps the arguments.)
        return pid if str(self._sshd_folder(host) / "sshd_config").encode() in command else None

    def stop(self):
        """End the sshd processes started here and their sessions, then remove the folder."""
        try:
            doomed = []
            for host in self.hosts:
                pid = self._own_sshd(host)
                if pid is not None:
                    # Its sessions first, listed while they are still below it; Ansible's persistent
                    # connections would otherwise keep them open for a minute.
                    doomed.extend([pid, *descendants(pid)])
            for pid in doomed:
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            for process in self.processes.values():
                try:
                    process.wait(timeout=START_TIMEOUT)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            deadline = time.monotonic() + START_TIMEOUT
            while any(alive(pid) for pid in doomed) and time.monotonic() < deadline:
                time.sleep(0.05)
            for pid in doomed:
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.ssh_hosts", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["up", "down"])
    parser.add_argument("--state", required=True, help="file that records the running hosts")
    parser.add_argument("--count", type=int, default=2, help="how many hosts up starts (default: 2)")
    parser.add_argument("--group", default="ops", help="the inventory group of the hosts (default: ops)")
    args = parser.parse_args(argv)
    state = Path(args.state)

    if args.action == "up":
        if state.exists():
            return f"Hosts are already recorded in {state}: run down first."
        state.parent.mkdir(parents=True, exist_ok=True)
        hosts = SshHosts(count=args.count)
        try:
            inventory = hosts.write_inventory(group=args.group)
            state.write_text(json.dumps({"folder": str(hosts.folder), "inventory": str(inventory)}), encoding="utf-8")
        except BaseException:
            # Hosts that no state file records would run until someone finds them.
            hosts.stop()
            raise
        print(f"{len(hosts.hosts)} SSH hosts up ({hosts.hosts[0]['address']} to {hosts.hosts[-1]['address']}), "
              f"inventory {inventory}")
        return 0
    if not state.exists():
        return 0  # nothing to stop
    recorded = json.loads(state.read_text(encoding="utf-8"))
    if Path(recorded["folder"]).exists():
        SshHosts(folder=recorded["folder"]).stop()
    state.unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
