#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: audit_record
short_description: Append one runbook action's record to the audit log
description:
  - Appends the record as one JSON line to O(file) in O(directory), in one write under an
    exclusive lock, so concurrent runs never interleave their lines.
  - As a last guard, the values of the environment variables in O(redact_env) are replaced by
    C(********) wherever they appear in the record, and so is the password of a URL among them
    (E(DATABASE_URL)).
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
    details: Returns the line it would write and writes nothing, but fails as a real run would when the
      audit log cannot be written, so a play can check it before it changes anything.
  diff_mode:
    support: none
  idempotent:
    support: none
    details: An audit log records every run, so every run appends a line.
options:
  directory:
    description: The audit folder. It is created, readable by its owner and group only, when missing.
    type: path
    required: true
  file:
    description:
      - The file's name in O(directory). The incident plays keep each incident's timeline in a file of its own.
    type: str
    default: audit.jsonl
  record:
    description: What happened. It should hold no secret.
    type: dict
    required: true
  redact_env:
    description: Environment variables whose values must never be written.
    type: list
    elements: str
    default: [VERCEL_TOKEN, SLACK_INCIDENT_WEBHOOK, SLACK_DEPLOYMENT_WEBHOOK, SLACK_MAINTENANCE_WEBHOOK,
              STATUS_PAGE_API_KEY, PAGERDUTY_ROUTING_KEY, PAGERDUTY_API_TOKEN, DATABASE_URL, PGPASSWORD]
"""

EXAMPLES = r"""
- name: Record the rollback
  runbook.ops.audit_record:
    directory: "{{ rollback_audit_dir }}"
    record:
      action: rollback
      operator: alice
      result: succeeded
"""

RETURN = r"""
path:
  description: The audit file.
  returned: always
  type: str
  sample: /var/lib/runbook-ops/audit/audit.jsonl
line:
  description: The JSON line written (in check mode, that would be written).
  returned: always
  type: str
"""
