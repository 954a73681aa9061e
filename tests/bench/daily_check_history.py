"""Benchmark: the hourly check with a year of history next to the same check with none.

``python -m tests.bench.daily_check_history [--runs 3]`` (``make bench``). It starts the fakes and, alternating from
one run to the next, times the whole hourly check (health samples, error rate, the report page with its charts,
the history line) by the real ansible-playbook, once on an empty history and once on a year of it: 24 hourly
checks and a morning and an evening check a day, 9,490 lines, as a schedule leaves them. It prints the history's
size, the page's size and the peak memory of ansible-playbook and its children.

Target (issue 7): a year of history costs the hourly check at most 1.5 times its time on an empty one (medians),
so that the history needs no pruning for the annual report to read it.
"""
import argparse
import datetime
import json
import os
import random
import resource
import statistics
import sys
import tempfile
from pathlib import Path

from tests.bench.rollback import timed
from tests.fakes import FakeServices

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
MAX_RATIO = 1.5


def year_of_history(path):
    """A year of checks, each with the measurements a real one records."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(minute=0, second=0, microsecond=0)
    lines = []
    for hours in range(365 * 24, 0, -1):
        moment = now - datetime.timedelta(hours=hours)
        at, date = moment.strftime("%Y-%m-%dT%H:%M:%SZ"), moment.strftime("%Y-%m-%d")
        lines.append({"phase": "hourly", "at": at, "date": date, "status": "ok", "breaches": [], "metrics": {
            "health.ok": 1, "response.median_ms": random.uniform(50, 90), "response.p95_ms": random.uniform(90, 300),
            "error_rate": random.uniform(0, 0.02), "active_users": random.randint(10, 400),
            "host.web1.disk_percent": 40.0, "host.web1.memory_percent": 55.0, "host.web1.load_per_cpu": 0.4}})
        if moment.hour in (0, 9):
            phase = "morning" if moment.hour == 0 else "evening"
            lines.append({"phase": phase, "at": at, "date": date, "status": "ok", "breaches": [], "metrics": {
                "database.shop.bytes": 8e9 + hours * 1e5, "table.public.orders.bytes": 3e9 + hours * 4e4,
                "backup.shop.age_hours": 2.0, "security.web1.failed_logins": 3, "security.web1.sudo": 1,
                "incidents.P1": 0, "incidents.P2": 0, "incidents.P3": 0, "incidents.P4": 0}})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return len(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.bench.daily_check_history", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)

    with FakeServices() as fakes, tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        inventory = scratch / "inventory.yml"
        inventory.write_text(json.dumps({"all": {"children": {"controller": {"hosts": {"localhost": {
            "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}}}}}),
            encoding="utf-8")
        env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
               "SLACK_MAINTENANCE_WEBHOOK": fakes.slack_url + "/services/T0SANDBOX/B0MAINT/sandboxsecretmaint0000001"}

        def hourly(folder):
            variables = {"daily_check_phase": "hourly", "daily_check_report_dir": str(folder),
                         "daily_check_lock_dir": str(scratch / "locks"),
                         "daily_check_samples": 3, "health_check_url": fakes.health_url + "/api/health"}
            return timed([str(ANSIBLE_PLAYBOOK), "-i", str(inventory), "playbooks/daily_check.yml",
                          "-e", json.dumps(variables)], env)

        empty, full = scratch / "empty", scratch / "year"
        full.mkdir()
        lines = year_of_history(full / "checks.jsonl")
        history_bytes = (full / "checks.jsonl").stat().st_size
        empty_times, full_times = [], []
        for run in range(args.runs):
            # A fresh empty history each time; the year's grows by one line a run, as it would.
            if empty.exists():
                for path in empty.iterdir():
                    path.unlink()
            # Alternate the order, so that a warmer or busier machine favours neither.
            if run % 2:
                full_times.append(hourly(full))
                empty_times.append(hourly(empty))
            else:
                empty_times.append(hourly(empty))
                full_times.append(hourly(full))
        page = next(full.glob("daily-check-hourly-*.html")).stat().st_size
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    empty_median, full_median = statistics.median(empty_times), statistics.median(full_times)
    ratio = full_median / empty_median
    print(f"runs: {args.runs}; history of a year: {lines} lines, {history_bytes / 1048576:.1f} MiB; page {page / 1024:.0f} KiB")
    print(f"hourly check, no history:     median {empty_median:.2f} s  ({', '.join(f'{t:.2f}' for t in empty_times)})")
    print(f"hourly check, a year of it:   median {full_median:.2f} s  ({', '.join(f'{t:.2f}' for t in full_times)})")
    print(f"peak memory of one process of the runs: {peak:.0f} MiB")
    print(f"ratio: {ratio:.2f} (target at most {MAX_RATIO:.1f}): {'within target' if ratio <= MAX_RATIO else 'OVER TARGET'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
