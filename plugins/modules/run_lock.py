#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: run_lock
short_description: Let only one run of a runbook action work on a thing at a time
description:
  - Takes or releases a lock file, so that, for example, two rollbacks of one project cannot interleave.
  - Taking is atomic (the file is created exclusively). A lock held by another run fails the task with
    who holds it and since when, and changes nothing.
  - Only the run that took a lock releases it, so a refused run cannot free someone else's lock.
version_added: 0.1.0
author: runbook.ops maintainers (@runbook-ops)
extends_documentation_fragment:
  - runbook.ops.attributes
attributes:
  check_mode:
    support: full
    details: Fails the same way when the lock is held by another run; takes and releases nothing.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: Taking a lock this run already holds, or releasing one it does not hold, changes nothing.
options:
  path:
    description:
      - The lock file. Its folder is created when missing.
      - For runs from several machines (AWX execution nodes) it must be on storage they share.
    type: path
    required: true
  state:
    description: V(present) takes the lock, V(absent) releases it.
    type: str
    choices: [present, absent]
    default: present
  run_id:
    description: What tells this run apart from any other. Releasing needs the same value as taking.
    type: str
    required: true
  owner:
    description: Who runs it and why, shown to a run that finds the lock held.
    type: str
    default: ""
  max_age:
    description:
      - Seconds after which a lock counts as left behind by a run that died; it is then taken over
        with a warning.
    type: int
    default: 3600
"""

EXAMPLES = r"""
- name: One rollback of this project at a time
  runbook.ops.run_lock:
    path: /var/lib/runbook-ops/locks/rollback-webapp.lock
    run_id: "{{ rollback_run_id }}"
    owner: "{{ operator }}: {{ rollback_reason }}"

- name: Release it
  runbook.ops.run_lock:
    path: /var/lib/runbook-ops/locks/rollback-webapp.lock
    run_id: "{{ rollback_run_id }}"
    state: absent
"""

RETURN = r"""
holder:
  description: The lock's content after the task (null when free).
  returned: always
  type: dict
  sample: {"run_id": "20261204T031500Z-1234", "owner": "alice: bad deploy", "taken_at": 1796361300}
"""

import json
import os
import time

from ansible.module_utils.basic import AnsibleModule


def read_holder(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None
    except ValueError:
        # A half-written lock is still a lock; treat it as taken just now.
        return {"run_id": "unknown", "owner": "unknown", "taken_at": time.time()}


def take(path, holder):
    """Create the lock file exclusively; False when it exists already."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(holder, handle)
    return True


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "run_id": {"type": "str", "required": True},
            "owner": {"type": "str", "default": ""},
            "max_age": {"type": "int", "default": 3600},
        },
        supports_check_mode=True,
    )
    path, run_id = module.params["path"], module.params["run_id"]
    holder = read_holder(path)
    ours = holder is not None and holder.get("run_id") == run_id

    if module.params["state"] == "absent":
        if ours and not module.check_mode:
            os.unlink(path)
        module.exit_json(changed=ours, holder=None if ours else holder)

    if ours:
        module.exit_json(changed=False, holder=holder)
    if holder is not None:
        age = time.time() - float(holder.get("taken_at", 0))
        if age <= module.params["max_age"]:
            module.fail_json(
                msg=(f"Another run holds the lock {path} since {int(age)}s ago "
                     f"(run {holder.get('run_id')}, {holder.get('owner') or 'owner unknown'}). "
                     "Nothing was changed. Wait for it to finish; if it died, remove the lock file."),
                holder=holder)
        module.warn(f"Taking over the lock {path}, left {int(age)}s ago by run {holder.get('run_id')}.")

    mine = {"run_id": run_id, "owner": module.params["owner"], "taken_at": time.time()}
    if module.check_mode:
        module.exit_json(changed=True, holder=mine)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    if holder is not None:
        os.unlink(path)
    if not take(path, mine):
        module.fail_json(msg=f"Another run took the lock {path} a moment ago. Nothing was changed.",
                         holder=read_holder(path))
    module.exit_json(changed=True, holder=mine)


if __name__ == "__main__":
    main()
