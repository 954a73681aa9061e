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
  - runbook.ops.attributes.action
attributes:
  action:
    support: full
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
  data:
    description:
      - What the run wants a successor to know should it die holding the lock, for example the state
        before its change. A run that takes the lock over gets it back in RV(taken_over).
    type: dict
    default: {}
  max_age:
    description:
      - Seconds after which a lock counts as left behind by a run that died; it is then taken over
        with a warning.
      - A lock taken on this machine by an ansible-playbook process that is gone (killed, cancelled)
        is taken over at once, with the same warning.
    type: int
    default: 3600
"""

EXAMPLES = r"""
- name: One rollback of this project at a time
  runbook.ops.run_lock:
    path: "{{ rollback_lock_dir }}/rollback-webapp.lock"
    run_id: "{{ rollback_run_id }}"
    owner: "{{ operator }}: {{ rollback_reason }}"

- name: Release it
  runbook.ops.run_lock:
    path: "{{ rollback_lock_dir }}/rollback-webapp.lock"
    run_id: "{{ rollback_run_id }}"
    state: absent
"""

RETURN = r"""
holder:
  description: The lock's content after the task (null when free).
  returned: always
  type: dict
  sample: {"run_id": "20261204T031500Z-1234", "owner": "alice: bad deploy", "taken_at": 1796361300,
           "host": "ops-1", "pid": 4242}
taken_over:
  description: The content of a lock left behind by a dead run that this task took over, else null.
  returned: when O(state=present) and the lock was taken
  type: dict
"""
