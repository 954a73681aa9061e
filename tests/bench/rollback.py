"""Benchmark: the application rollback's wall time next to ansible-playbook's own floor.

``python -m tests.bench.rollback [--runs N]`` (``make bench``). Both are measured in the same
run, alternating, against the in-process fakes, so the comparison holds on any machine. The
target is the floor plus 2 seconds. It also counts the HTTP requests each service received
in one rollback, against the budget: one page of deployments when the previous one is on it,
one read and at most one write per domain when switching, the health polls, one Slack post
per notice.
"""
import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.fakes import FakeServices

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
TARGET_OVER_FLOOR = 2.0
FLOOR_PLAY = """
- name: Floor
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: One no-op module run
      ansible.builtin.ping:
"""


def timed(command, env):
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:2])} failed:\n{done.stdout}\n{done.stderr}")
    return elapsed


def endpoint(request):
    """A request's endpoint with the ids folded, e.g. ``GET /v4/aliases/{id}``."""
    parts = request["path"].split("/")
    if request["path"].startswith("/services/"):
        return f"{request['method']} /services/{{webhook}}"
    folded = [part if part.startswith("v") and part[1:].isdigit() or part in ("deployments", "aliases", "projects")
              else "{id}" for part in parts[1:]]
    return f"{request['method']} /{'/'.join(folded)}"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.bench.rollback", description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)

    with FakeServices() as fakes, tempfile.TemporaryDirectory() as scratch:
        floor_play = Path(scratch, "floor.yml")
        floor_play.write_text(FLOOR_PLAY, encoding="utf-8")
        env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
               "VERCEL_API_URL": fakes.vercel_url, "VERCEL_TOKEN": "sandboxVercelToken01",
               "SLACK_INCIDENT_WEBHOOK": fakes.slack_url + "/services/T0SANDBOX/B0INCIDENT/sandboxsecretincident0001"}
        variables = json.dumps({"rollback_type": "application", "rollback_reason": "benchmark", "rollback_confirm": True,
                                "health_check_url": fakes.health_url + "/api/health",
                                "rollback_audit_dir": f"{scratch}/audit", "rollback_lock_dir": f"{scratch}/locks"})
        rollback = [str(ANSIBLE_PLAYBOOK), "-i", "inventories/sandbox", "playbooks/rollback.yml", "-e", variables]
        floor = [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", str(floor_play),
                 "-e", f"ansible_python_interpreter={sys.executable}"]

        rollback_times, floor_times = [], []
        for dummy in range(args.runs):
            fakes.reset()
            rollback_times.append(timed(rollback, env))
            counts = collections.Counter(endpoint(r) for r in fakes.vercel.requests())
            counts.update(endpoint(r) for r in fakes.slack.requests())
            counts.update(f"GET {r['path']} (health)" for r in fakes.health.requests())
            floor_times.append(timed(floor, env))

    rollback_median, floor_median = statistics.median(rollback_times), statistics.median(floor_times)
    over = rollback_median - floor_median
    print(f"runs: {args.runs}")
    print(f"floor (ansible-playbook, one no-op task): median {floor_median:.2f} s")
    print(f"application rollback:                     median {rollback_median:.2f} s")
    print(f"over the floor: {over:.2f} s (target at most {TARGET_OVER_FLOOR:.1f} s): "
          f"{'within target' if over <= TARGET_OVER_FLOOR else 'OVER TARGET'}")
    print("\nHTTP requests in one rollback:")
    for name, count in sorted(counts.items()):
        print(f"  {count:3d}  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
