"""Benchmark: the daily maintenance level across 20 SSH hosts next to the same level on one host.

``python -m tests.bench.maintenance_hosts [--hosts 20] [--runs 3]`` (``make bench``). It starts a throwaway
PostgreSQL cluster, the fakes, and sshd on loopback addresses as the ops hosts, each with a log folder of old and
young files to clean up. Then, alternating from one run to the next, it times the whole daily level (backup,
session count, clean-up and resource report on every host, reports, notices) with an inventory of one host and
with one of all of them, with as many forks as hosts, as an operator would set for a schedule.

Target (issue 6): the many-host run at most 3 times the one-host run's wall time (medians).
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

from tests.bench.rollback import timed
from tests.fakes import FakeServices
from tests.postgres_cluster import PASSWORD, SUPERUSER, ThrowawayCluster
from tests.ssh_hosts import SshHosts

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
MAX_RATIO = 3.0
OLD, YOUNG = 40 * 86400, 86400


def seed_logs(folder, files=50):
    """Old and young logs in the host's log folder, for the clean-up to sort out on every run."""
    logs = folder / "log"
    logs.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for number in range(files):
        path = logs / f"app-{number}.log"
        path.write_text("line\n" * 200)
        moment = now - (OLD if number % 2 else YOUNG)
        os.utime(path, (moment, moment))


def one_host_inventory(inventory, path):
    """The same inventory with only the first host of the ops group."""
    data = yaml.safe_load(inventory.read_text(encoding="utf-8"))
    hosts = data["all"]["children"]["ops"]["hosts"]
    first = next(iter(hosts))
    data["all"]["children"]["ops"]["hosts"] = {first: hosts[first]}
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.bench.maintenance_hosts", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)

    cluster = ThrowawayCluster()
    hosts = None
    try:
        cluster.psql("CREATE DATABASE bench_shop")
        cluster.psql("CREATE TABLE orders (id serial PRIMARY KEY, total numeric NOT NULL);"
                     "INSERT INTO orders (total) SELECT n FROM generate_series(1, 10000) AS n", database="bench_shop")
        hosts = SshHosts(count=args.hosts)
        with FakeServices() as fakes, tempfile.TemporaryDirectory() as scratch:
            scratch = Path(scratch)
            controller = scratch / "controller.yml"
            controller.write_text(json.dumps({"all": {"children": {
                "controller": {"hosts": {"localhost": {"ansible_connection": "local",
                                                       "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}},
                "db": {"hosts": {"localhost": None}}}}}), encoding="utf-8")
            many = hosts.write_inventory(scratch / "many.yml")
            one = one_host_inventory(many, scratch / "one.yml")
            env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
                   "DATABASE_URL": f"postgresql://{SUPERUSER}:{PASSWORD}@{cluster.host}:{cluster.port}/bench_shop",
                   "SLACK_MAINTENANCE_WEBHOOK": fakes.slack_url + "/services/T0SANDBOX/B0MAINT/sandboxsecretmaint0000001"}
            variables = json.dumps({
                "maintenance_level": "daily",
                "maintenance_report_dir": str(scratch / "reports"), "maintenance_audit_dir": str(scratch / "audit"),
                "maintenance_lock_dir": str(scratch / "locks"), "db_backup_dir": str(scratch / "backup"),
                "maintenance_backup_keep_count": 2,
                "maintenance_cleanup": [{"paths": ["log"], "patterns": ["*.log"], "older_than_days": 30}]})

            def daily(inventory, forks):
                for host in hosts.hosts:
                    seed_logs(hosts.host_folder(host))
                return timed([str(ANSIBLE_PLAYBOOK), "-i", str(controller), "-i", str(inventory), "--forks", str(forks),
                              "playbooks/maintenance.yml", "-e", variables], env)

            one_times, many_times = [], []
            for run in range(args.runs):
                # Alternate the order, so that a warmer or busier machine favours neither.
                if run % 2:
                    many_times.append(daily(many, args.hosts))
                    one_times.append(daily(one, 1))
                else:
                    one_times.append(daily(one, 1))
                    many_times.append(daily(many, args.hosts))
    finally:
        if hosts:
            hosts.stop()
        cluster.stop()

    one_median, many_median = statistics.median(one_times), statistics.median(many_times)
    ratio = many_median / one_median
    print(f"runs: {args.runs}")
    print(f"daily level, 1 host:   median {one_median:.2f} s  ({', '.join(f'{t:.2f}' for t in one_times)})")
    print(f"daily level, {args.hosts} hosts: median {many_median:.2f} s  ({', '.join(f'{t:.2f}' for t in many_times)})")
    print(f"ratio: {ratio:.2f} (target at most {MAX_RATIO:.1f}): {'within target' if ratio <= MAX_RATIO else 'OVER TARGET'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
