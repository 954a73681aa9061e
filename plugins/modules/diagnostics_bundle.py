#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: diagnostics_bundle
short_description: Write collected diagnostics as one .tar.gz, with secrets masked
description:
  - Writes each entry of O(files) as a file inside one gzip-compressed tar archive at O(path), on the controller.
    The archive holds one folder named after the archive, so unpacking several bundles never mixes them.
  - Before anything is written, the values of the environment variables in O(redact_env) (and the password
    of a URL among them), the values in O(redact), and text shaped like a credential (a URL's password,
    C(Authorization) schemes, C(password=...), Slack webhook paths) are replaced by C(********).
  - The archive and its folder are readable by their owner only. It is written under a temporary name and
    gets its final name only when complete; an existing bundle is never overwritten.
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
    details: Returns what the bundle would hold and writes nothing.
  diff_mode:
    support: none
  idempotent:
    support: none
    details: A bundle is a snapshot; each run writes a new one under a new name, and fails rather than
      overwrite an existing one.
options:
  path:
    description: The archive to write; its name must end in C(.tar.gz).
    type: path
    required: true
  files:
    description:
      - File names inside the bundle (relative, C(/) for sub-folders) with their contents.
      - A string is written as it is; anything else as indented JSON.
    type: dict
    required: true
  redact_env:
    description: Environment variables of the controller whose values must never be written.
    type: list
    elements: str
    default: [VERCEL_TOKEN, SLACK_INCIDENT_WEBHOOK, SLACK_DEPLOYMENT_WEBHOOK, SLACK_MAINTENANCE_WEBHOOK,
              STATUS_PAGE_API_KEY, PAGERDUTY_ROUTING_KEY, PAGERDUTY_API_TOKEN, DATABASE_URL, PGPASSWORD]
  redact:
    description: Further values that must never be written, such as an inventory's database password.
    type: list
    elements: str
    default: []
notes:
  - Masking is a last guard, not a filter to rely on; collect only what diagnostics need.
seealso:
  - module: runbook.ops.audit_record
"""

EXAMPLES = r"""
- name: List the deployments of the last day
  runbook.ops.vercel_deployment_info:
    project: webapp
    target: any
    since_hours: 24
  register: deployments

- name: Read the errors web1 logged in the last hour
  ansible.builtin.command: journalctl --priority err --since "1 hour ago" --no-pager
  delegate_to: web1
  register: journal
  changed_when: false

- name: Write the bundle
  runbook.ops.diagnostics_bundle:
    path: "{{ diagnostics_dir }}/INC-20261204-213000-diagnostics.tar.gz"
    files:
      deployments.json: "{{ deployments.deployments }}"
      ops/web1/journal-errors.txt: "{{ journal.stdout }}"
  register: bundle

- name: Say what it holds
  ansible.builtin.debug:
    msg: "{{ bundle.contents | map(attribute='name') | join(', ') }}"
"""

RETURN = r"""
path:
  description: The archive.
  returned: always
  type: str
contents:
  description: The files in the bundle with their sizes after masking.
  returned: success
  type: list
  elements: dict
  sample: [{"name": "deployments.json", "bytes": 5120}]
redacted:
  description: The files in which something was masked.
  returned: success
  type: list
  elements: str
bytes:
  description: Size of the archive; null in check mode.
  returned: success
  type: int
"""
